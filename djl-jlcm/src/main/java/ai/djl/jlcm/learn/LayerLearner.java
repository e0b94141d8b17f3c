package ai.djl.jlcm.learn;

import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** Finds one layer's compressed weight from its reconstruction loss on calibration inputs. */
interface LayerLearner {

    /**
     * Compresses a layer.
     *
     * @param parent the manager for temporary arrays
     * @param weight the dense weight, row-major
     * @param shape its shape
     * @param loss the layer's reconstruction loss
     * @return the compressed weight and its errors
     */
    LayerResult learn(NDManager parent, float[] weight, Shape shape, ReconstructionLoss loss);

    /**
     * Returns the learner of a layer's calibrated method.
     *
     * @param settings the layer's settings
     * @return JLCM's learner, or GPTQ's
     * @throws IllegalArgumentException for a data-free method
     */
    static LayerLearner of(LayerSettings settings) {
        switch (settings.getMethod()) {
            case JLCM:
                return new CodebookLearner(settings);
            case GPTQ:
            case GPTQ_CODEBOOK:
                return new GptqLearner(settings);
            default:
                throw new IllegalArgumentException("method " + settings.getMethod().label() + " is data-free: it has no learner");
        }
    }
}
