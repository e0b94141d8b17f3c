package ai.djl.jlcm.learn;

import ai.djl.jlcm.nn.Scalars;
import ai.djl.jlcm.codebook.Gptq;
import ai.djl.jlcm.codebook.KMeansQuantizer;
import ai.djl.jlcm.grouping.NeuronGrouping;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.jlcm.transform.Replacements;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;

import java.util.ArrayList;
import java.util.List;

/**
 * JLCM's learner: groups a layer's neurons by weight distribution, initializes codebooks by
 * importance-weighted k-means, then learns codebooks, scales and mappings jointly with Adam through
 * DJL autograd. One loop ({@link #run}) serves a single layer, against its reconstruction loss, and a
 * reconstruction unit (several layers learned together against a block's output). The state with the
 * lowest reconstruction error seen (the initialization included) is kept, so learning never makes a
 * layer worse on its calibration data.
 */
final class CodebookLearner implements LayerLearner {

    /** How often (in steps) the hard-mapping error is evaluated for keeping the best state. */
    static final int EVAL_EVERY = 10;

    private final LayerSettings settings;
    private final long chunkWeights;

    CodebookLearner(LayerSettings settings) {
        this(settings, LayerState.UPDATE_CHUNK);
    }

    /**
     * Creates a learner whose steps work on chunks of about {@code chunkWeights} weights (whole rows)
     * where the loss allows it.
     *
     * @param settings the layer's settings
     * @param chunkWeights the weights per chunk
     */
    CodebookLearner(LayerSettings settings, long chunkWeights) {
        this.settings = settings;
        this.chunkWeights = chunkWeights;
    }

    /**
     * Returns the grouping and importance-weighted k-means initialization of a layer.
     *
     * @param settings the layer's settings (bits, groups, mode, seed)
     * @param weight the dense weight, row-major
     * @param shape its shape
     * @param importance the importance of each weight element, or {@code null}
     * @return the initialization
     */
    static CompressedWeight initialize(LayerSettings settings, float[] weight, Shape shape, float[] importance) {
        int rows = Math.toIntExact(shape.get(0));
        int cols = Math.toIntExact(shape.size() / rows);
        NeuronGrouping grouping =
                NeuronGrouping.of(weight, rows, cols, CompressedWeight.groupsFor(settings.getGroups(), shape), settings.getSeed());
        return KMeansQuantizer.fit(
                weight,
                importance,
                shape,
                settings.getIndexBits(),
                settings.getVectorLength(),
                settings.getMode(),
                grouping.groups(),
                grouping.groupOf());
    }

    /** What the learning loop minimizes, over the states of one layer or of a unit's layers. */
    interface Objective {
        /**
         * Accumulates the gradients of the loss at the training weights of these mappings.
         *
         * @param mappings one mapping per state
         */
        void backward(List<NDArray> mappings);

        /**
         * Returns the relative reconstruction error of the hard weights of these mappings.
         *
         * @param mappings one mapping per state
         * @return the error
         */
        double error(List<NDArray> mappings);
    }

    /**
     * The learning loop: from the states' initial mappings, {@code steps} Adam steps on the
     * objective, evaluating the hard error every {@link #EVAL_EVERY} steps and at the end.
     *
     * @param states the trainable states
     * @param objective the loss
     * @param steps the steps
     * @return one result per state (the best state seen, whose error is the objective's)
     */
    static List<LayerResult> run(List<LayerState> states, Objective objective, int steps) {
        List<NDArray> init = new ArrayList<>();
        for (LayerState s : states) {
            init.add(s.initialMapping());
            s.keep(s.initialMapping());
        }
        double initError;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            initError = objective.error(init);
        }
        double bestError = initError;
        int bestStep = 0;
        for (int step = 1; step <= steps; step++) {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                List<NDArray> index = mappings(states);
                objective.backward(index);
                for (int i = 0; i < states.size(); i++) {
                    states.get(i).update(index.get(i));
                }
                if (step % EVAL_EVERY == 0 || step == steps) {
                    List<NDArray> hard = mappings(states);
                    double error = objective.error(hard);
                    if (error < bestError) {
                        for (int i = 0; i < states.size(); i++) {
                            states.get(i).keep(hard.get(i));
                        }
                        bestError = error;
                        bestStep = step;
                    }
                }
            }
        }
        List<LayerResult> results = new ArrayList<>();
        for (LayerState s : states) {
            CompressedWeight learned = s.kept();
            results.add(new LayerResult(learned, initError, bestError, learned.codewordUsage(), bestStep));
        }
        return results;
    }

    private static List<NDArray> mappings(List<LayerState> states) {
        List<NDArray> index = new ArrayList<>();
        for (LayerState s : states) {
            index.add(s.mapping());
        }
        return index;
    }

    /**
     * {@inheritDoc} Vector codebooks, whose mappings stay fixed while the codebooks learn, start from
     * GPTQ's rounding onto the k-means codebooks (GPTVQ) with the loss's input Gram matrices, not
     * from the nearest codewords: the mappings then already spread each vector's error over the
     * columns not yet rounded. GPTQ rounds the float weight: rounding the least-squares weight on the
     * compressed stream instead halved the deeper layers' errors on BERT-base but overfitted the
     * calibration text (README, vector codebooks).
     */
    @Override
    public LayerResult learn(NDManager parent, float[] weight, Shape shape, ReconstructionLoss loss) {
        CompressedWeight init = initialize(settings, weight, shape, loss.importance());
        if (init.getVectorLength() > 1) {
            init = Gptq.quantize(weight, loss.inputGrams(), init, settings.getDampening());
        }
        try (NDManager m = parent.newSubManager()) {
            boolean neighbours = settings.getMapping() == MappingUpdate.NEIGHBOURS;
            // the coupling (an [N, N] copy) only where several moves a step use it
            NDArray coupling = neighbours && settings.getNeighbourMoves() > 1 ? loss.coupling(m) : null;
            LayerState s = new LayerState(m, init, weight, settings, chunkWeights, neighbours ? loss.curvature(m) : null, coupling);
            Objective objective =
                    new Objective() {
                        @Override
                        public void backward(List<NDArray> mappings) {
                            CodebookLearner.this.backward(s, loss, mappings.get(0), shape);
                        }

                        @Override
                        public double error(List<NDArray> mappings) {
                            return CodebookLearner.this.error(s, loss, mappings.get(0), shape);
                        }
                    };
            return run(List.of(s), objective, settings.getSteps()).get(0);
        }
    }

    /**
     * Accumulates the gradients of one step: in one piece, or a block of latent rows at a time when
     * the loss allows it and the layer is large (the gradients of the blocks add up to the whole
     * one's), so that the autograd graph holds one block's arrays.
     */
    private void backward(LayerState s, ReconstructionLoss loss, NDArray index, Shape shape) {
        long rows = shape.get(0);
        if (!loss.separableByRows() || shape.size() <= chunkWeights) {
            try (GradientCollector gc = index.getManager().getEngine().newGradientCollector()) {
                gc.backward(loss.loss(s.trainingWeight(index)));
            }
            return;
        }
        long chunk = s.chunkRows();
        for (long r0 = 0; r0 < rows; r0 += chunk) {
            long r1 = Math.min(rows, r0 + chunk);
            try (NDScope scope = new NDScope();
                    GradientCollector gc = index.getManager().getEngine().newGradientCollector()) {
                scope.suppressNotUsedWarning();
                gc.backward(loss.lossOfRows(s.trainingRows(index, r0, r1), r0));
            }
        }
    }

    /**
     * Returns the error of a hard mapping: in one piece, or a chunk of rows at a time as {@link
     * #backward} works, so that no layer-sized temporaries are built for a large layer.
     */
    private double error(LayerState s, ReconstructionLoss loss, NDArray index, Shape shape) {
        long rows = shape.get(0);
        if (!loss.separableByRows() || shape.size() <= chunkWeights) {
            return loss.error(s.hardWeight(index));
        }
        long chunk = s.chunkRows();
        double error = 1;
        for (long r0 = 0; r0 < rows; r0 += chunk) {
            long r1 = Math.min(rows, r0 + chunk);
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                error += loss.errorOfRows(s.hardRows(index, r0, r1), r0);
            }
        }
        return error;
    }

    /**
     * One layer of a reconstruction unit.
     *
     * @param path its path in the tree
     * @param layer the float layer
     * @param weight its dense weight, row-major
     * @param shape the weight's shape
     * @param importance the importance of each weight, from the layer's inputs
     * @param settings the layer's settings
     */
    record UnitLayer(String path, Block layer, float[] weight, Shape shape, float[] importance, LayerSettings settings) {}

    /**
     * Learns the layers of a unit together against the unit's float output: while it runs, each
     * layer's place holds its codebook block ({@link Replacements#codebookBlock}), which a {@link
     * LayerState} drives ({@link CodebookWeight#learnWith}), so the unit learns through the blocks'
     * own forward passes; the float layers are back in place when it returns. The unit learns for
     * the largest step count of its layers.
     *
     * @param capture the manager of the states
     * @param root the tree
     * @param unit the unit block
     * @param layers the unit's layers, in network order
     * @param inputs the unit's inputs, from the compressed stream
     * @param targets the float unit's output for each input batch
     * @return one result per layer; errors are the unit's
     */
    static List<LayerResult> learnUnit(
            NDManager capture, Block root, Block unit, List<UnitLayer> layers, List<NDList> inputs, List<NDArray> targets) {
        ParameterStore ps = new ParameterStore(capture, false);
        float reference = 0;
        for (NDArray y : targets) {
            reference += y.square().sum().getFloat();
        }
        List<LayerState> states = new ArrayList<>();
        List<CodebookWeight> blocks = new ArrayList<>();
        int steps = 0;
        for (UnitLayer l : layers) {
            LayerState state = new LayerState(capture, initialize(l.settings(), l.weight(), l.shape(), l.importance()), l.weight(), l.settings());
            states.add(state);
            steps = Math.max(steps, l.settings().getSteps());
            CodebookWeight weight = state.weight();
            Block block = Replacements.codebookBlock(l.layer(), weight, l.path(), MemoryMode.PACKED);
            BlockTree tree = BlockTree.of(root);
            tree.checkReplaceable(l.layer(), block, l.path());
            tree.replace(l.layer(), block);
            blocks.add(weight);
        }
        float total = reference;
        Objective objective =
                new Objective() {
                    @Override
                    public void backward(List<NDArray> mappings) {
                        drive(blocks, states, mappings, false);
                        try (GradientCollector gc = capture.getEngine().newGradientCollector()) {
                            NDArray sum = null;
                            for (int b = 0; b < inputs.size(); b++) {
                                NDArray e = unit.forward(ps, inputs.get(b), false).get(0).sub(targets.get(b)).square().sum();
                                sum = sum == null ? e : sum.add(e);
                            }
                            gc.backward(Scalars.div(sum, total));
                        }
                    }

                    @Override
                    public double error(List<NDArray> mappings) {
                        drive(blocks, states, mappings, true);
                        double sum = 0;
                        for (int b = 0; b < inputs.size(); b++) {
                            try (NDArray e = unit.forward(ps, inputs.get(b), false).get(0).sub(targets.get(b)).square().sum()) {
                                sum += e.getFloat();
                            }
                        }
                        return sum / total;
                    }
                };
        try {
            return run(states, objective, steps);
        } finally {
            for (int i = 0; i < layers.size(); i++) {
                blocks.get(i).learnWith(null);
                BlockTree tree = BlockTree.of(root);
                tree.replace(tree.get(layers.get(i).path()), layers.get(i).layer());
            }
        }
    }

    /** Makes each block compute with its state's weight at this mapping: hard (no gradient) or training. */
    private static void drive(List<CodebookWeight> blocks, List<LayerState> states, List<NDArray> mappings, boolean hard) {
        for (int i = 0; i < blocks.size(); i++) {
            LayerState s = states.get(i);
            NDArray index = mappings.get(i);
            blocks.get(i).learnWith(hard ? () -> s.hardWeight(index) : () -> s.trainingWeight(index));
        }
    }
}
