package ai.djl.jlcm.learn;

import ai.djl.jlcm.codebook.KMeansQuantizer;
import ai.djl.jlcm.grouping.NeuronGrouping;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

/**
 * Compresses one layer: groups its neurons by weight distribution, initializes codebooks by
 * importance-weighted k-means, then learns codebooks, scales and mappings jointly with Adam through
 * DJL autograd against a reconstruction loss. The state with the lowest reconstruction error seen
 * (the initialization included) is kept, so learning never makes a layer worse on its calibration
 * data.
 */
final class CodebookLearner implements LayerLearner {

    /** How often (in steps) the hard-mapping error is evaluated for keeping the best state. */
    static final int EVAL_EVERY = 10;

    private final LearningConfig config;
    private final long chunkWeights;

    CodebookLearner(LearningConfig config) {
        this(config, LayerState.UPDATE_CHUNK);
    }

    /**
     * Creates a learner whose steps work on chunks of about {@code chunkWeights} weights (whole rows)
     * where the loss allows it.
     *
     * @param config the learning settings
     * @param chunkWeights the weights per chunk
     */
    CodebookLearner(LearningConfig config, long chunkWeights) {
        this.config = config;
        this.chunkWeights = chunkWeights;
    }

    /**
     * Returns the grouping and importance-weighted k-means initialization of a layer.
     *
     * @param weight the dense weight, row-major
     * @param shape its shape
     * @param importance the importance of each weight element, or {@code null}
     * @return the initialization
     */
    CompressedWeight initialize(float[] weight, Shape shape, float[] importance) {
        int rows = Math.toIntExact(shape.get(0));
        int cols = Math.toIntExact(shape.size() / rows);
        NeuronGrouping grouping =
                NeuronGrouping.of(weight, rows, cols, CompressedWeight.groupsFor(config.groups(), shape), config.seed());
        return KMeansQuantizer.fit(
                weight, importance, shape, config.bits(), config.mode(), grouping.groups(), grouping.groupOf());
    }

    /**
     * Accumulates the gradients of one step: in one piece, or a chunk of rows at a time when the loss
     * allows it and the layer is large (the gradients of the chunks add up to the whole one's), so that
     * the autograd graph holds one chunk of latent-sized arrays.
     */
    private void backward(LayerState s, ReconstructionLoss loss, NDArray index, Shape shape) {
        long rows = shape.get(0);
        long cols = shape.size() / rows;
        if (!loss.separableByRows() || shape.size() <= chunkWeights) {
            try (GradientCollector gc = index.getManager().getEngine().newGradientCollector()) {
                gc.backward(loss.loss(s.trainingWeight(index)));
            }
            return;
        }
        long chunk = Math.max(1, chunkWeights / cols);
        for (long r0 = 0; r0 < rows; r0 += chunk) {
            long r1 = Math.min(rows, r0 + chunk);
            try (NDScope scope = new NDScope();
                    GradientCollector gc = index.getManager().getEngine().newGradientCollector()) {
                scope.suppressNotUsedWarning();
                gc.backward(loss.lossOfRows(s.trainingRows(index, r0, r1), r0));
            }
        }
    }

    @Override
    public LayerResult learn(NDManager parent, float[] weight, Shape shape, ReconstructionLoss loss) {
        CompressedWeight init = initialize(weight, shape, loss.importance());
        try (NDManager m = parent.newSubManager()) {
            LayerState s = new LayerState(m, init, weight, config, chunkWeights);
            double initError = loss.error(s.hardWeight(s.initialMapping()));
            LayerState.Snapshot best = s.snapshot(s.initialMapping());
            double bestError = initError;
            int bestStep = 0;
            for (int step = 1; step <= config.steps(); step++) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    NDArray index = s.mapping();
                    backward(s, loss, index, shape);
                    s.update(index);
                    if (step % EVAL_EVERY == 0 || step == config.steps()) {
                        NDArray hard = s.mapping();
                        double error = loss.error(s.hardWeight(hard));
                        if (error < bestError) {
                            best = s.snapshot(hard);
                            bestError = error;
                            bestStep = step;
                        }
                    }
                }
            }
            return new LayerResult(best.toWeight(init), initError, bestError, best.usage(init), bestStep);
        }
    }
}
