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

    CodebookLearner(LearningConfig config) {
        this.config = config;
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

    @Override
    public LayerResult learn(NDManager parent, float[] weight, Shape shape, ReconstructionLoss loss) {
        CompressedWeight init = initialize(weight, shape, loss.importance());
        try (NDManager m = parent.newSubManager()) {
            LayerState s = new LayerState(m, init, weight, config);
            double initError = loss.error(s.hardWeight(s.initialMapping()));
            LayerState.Snapshot best = s.snapshot(s.initialMapping());
            double bestError = initError;
            int bestStep = 0;
            for (int step = 1; step <= config.steps(); step++) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    NDArray index = s.mapping();
                    try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                        gc.backward(loss.loss(s.trainingWeight(index)));
                    }
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
