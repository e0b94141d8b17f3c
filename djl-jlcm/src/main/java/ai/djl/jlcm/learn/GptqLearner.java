package ai.djl.jlcm.learn;

import ai.djl.jlcm.codebook.Gptq;
import ai.djl.jlcm.codebook.WeightQuantizer;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Compresses a {@code Linear} layer or a convolution with {@link Gptq} rounding onto the grid of its
 * method (RTN's per-row levels for GPTQ, grouped k-means codebooks for GPTQ_CODEBOOK) fitted to the
 * layer's weight, with the Gram matrices of the layer's inputs from the compressed stream ({@link
 * ReconstructionLoss#inputGrams()}: of the unfolded patches, one per channel group, for a
 * convolution). Its errors are the reconstruction loss's: nearest rounding onto the grid (init) and
 * GPTQ's rounding (learned).
 */
final class GptqLearner implements LayerLearner {

    private final LayerSettings settings;

    /**
     * Creates a learner.
     *
     * @param settings the layer's settings: a GPTQ method (its grid), bits, groups, mode, dampening
     */
    GptqLearner(LayerSettings settings) {
        this.settings = settings;
    }

    @Override
    public LayerResult learn(NDManager parent, float[] weight, Shape shape, ReconstructionLoss loss) {
        CompressedWeight nearest = WeightQuantizer.of(settings.getMethod()).quantize(weight, shape, settings);
        CompressedWeight rounded = Gptq.quantize(weight, loss.inputGrams(), nearest, settings.getDampening());
        try (NDManager m = parent.newSubManager()) {
            double init = loss.error(m.create(nearest.decode(), shape));
            double learned = loss.error(m.create(rounded.decode(), shape));
            return new LayerResult(rounded, init, learned, rounded.codewordUsage(), 0);
        }
    }
}
