package ai.djl.jlcm.learn;

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
}
