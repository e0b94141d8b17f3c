package ai.djl.jlcm;

import ai.djl.Model;
import ai.djl.jlcm.codebook.RtnQuantizer;
import ai.djl.jlcm.codebook.WeightQuantizer;
import ai.djl.jlcm.learn.BatchNormStatistics;
import ai.djl.jlcm.learn.JlcmReport;
import ai.djl.jlcm.learn.LearningConfig;
import ai.djl.jlcm.learn.MappingUpdate;
import ai.djl.jlcm.learn.SequentialCompressor;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Dataset;
import ai.djl.translate.TranslateException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * JLCM: grouped codebooks whose codewords, scales and weight mappings are learned jointly on a small
 * unlabeled calibration set after training.
 *
 * <pre>{@code
 * JlcmReport report = Jlcm.builder()
 *         .optBits(2)
 *         .optGroups(4)
 *         .optMode(CodebookMode.MULTI)
 *         .build()
 *         .compress(model, calibrationBatches);
 * }</pre>
 *
 * <p>Layers are compressed one at a time in network order, each against the float network's output
 * on inputs from the partly compressed network: neurons are grouped by weight distribution,
 * codebooks initialized by importance-weighted k-means, then codebooks, scales and mappings learned
 * with Adam (mapping update {@link MappingUpdate#PROXIMAL} by default).
 */
public final class Jlcm {

    private final CodebookTransformer selection;
    private final LearningConfig config;
    private final Predicate<String> units;
    private final boolean deterministic;
    private final boolean staged;
    private final WeightQuantizer gptqGrid;
    private final boolean recalibrateBatchNorm;

    private Jlcm(Builder b) {
        recalibrateBatchNorm = b.recalibrateBatchNorm;
        deterministic = b.deterministic;
        staged = b.staged;
        gptqGrid = b.gptqGrid;
        CodebookTransformer.Builder select =
                CodebookTransformer.builder()
                        .setQuantizer(new RtnQuantizer())
                        .optBits(b.bits)
                        .optPathFilter(b.pathFilter)
                        .optMinWeights(b.minWeights);
        if (b.layerTypes != null) {
            select.optLayerTypes(b.layerTypes);
        }
        selection = select.build();
        units = b.units;
        config =
                new LearningConfig(
                        b.bits,
                        b.groups,
                        b.mode,
                        b.mapping,
                        b.steps,
                        b.codebookRate,
                        b.scaleRate,
                        b.latentRate,
                        b.edgePhi,
                        b.phiOnStep,
                        b.softTemperature,
                        b.dampening,
                        b.seed);
    }

    /**
     * Creates a builder.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Returns the learning settings.
     *
     * @return the settings
     */
    public LearningConfig getConfig() {
        return config;
    }

    /**
     * Compresses the selected layers of a model in place.
     *
     * @param model a model with an initialized block
     * @param calibration unlabeled input batches (a few hundred samples is typical)
     * @return the per-layer report
     */
    public JlcmReport compress(Model model, Iterable<NDList> calibration) {
        return compress(model.getBlock(), calibration, model.getNDManager());
    }

    /**
     * Compresses the selected layers of a model in place, calibrating on the inputs of a dataset.
     *
     * @param model a model with an initialized block
     * @param calibration a dataset whose batches' data are the inputs (labels are ignored)
     * @return the per-layer report
     * @throws IOException if the dataset cannot be read
     * @throws TranslateException if the dataset cannot be read
     */
    public JlcmReport compress(Model model, Dataset calibration) throws IOException, TranslateException {
        try (NDManager m = model.getNDManager().newSubManager()) {
            List<NDList> batches = new ArrayList<>();
            for (Batch batch : calibration.getData(m)) {
                batches.add(batch.getData());
            }
            return compress(model, batches);
        }
    }

    /**
     * Compresses the selected layers of a block tree in place.
     *
     * @param block an initialized block
     * @param calibration unlabeled input batches
     * @param manager the manager for temporary arrays
     * @return the per-layer report
     */
    public JlcmReport compress(Block block, Iterable<NDList> calibration, NDManager manager) {
        if (!deterministic) {
            return compressAndRecalibrate(block, calibration, manager);
        }
        try (SingleThreadedEngine hold = SingleThreadedEngine.hold(manager.getEngine())) {
            return compressAndRecalibrate(block, calibration, manager);
        }
    }

    private JlcmReport compressAndRecalibrate(Block block, Iterable<NDList> calibration, NDManager manager) {
        JlcmReport report = new SequentialCompressor(selection, config, units, staged, gptqGrid).compress(block, calibration, manager);
        if (recalibrateBatchNorm) {
            BatchNormStatistics.reestimate(block, calibration, manager);
        }
        return report;
    }

    /** Builds a {@link Jlcm}. */
    public static final class Builder {

        private int bits = 2;
        private int groups = 4;
        private CodebookMode mode = CodebookMode.MULTI;
        private MappingUpdate mapping = MappingUpdate.PROXIMAL;
        private int steps = 200;
        private float codebookRate = 1e-3f;
        private float scaleRate = 1e-3f;
        private float latentRate = 0.02f;
        private float edgePhi = 1f;
        private boolean phiOnStep = true;
        private float softTemperature = 0.5f;
        private float dampening = 0.01f;
        private long seed;
        private Set<Class<? extends Block>> layerTypes;
        private Predicate<String> pathFilter = p -> true;
        private long minWeights;
        private Predicate<String> units = p -> false;
        private boolean deterministic;
        private boolean staged = true;
        private WeightQuantizer gptqGrid;
        private boolean recalibrateBatchNorm;

        Builder() {}

        /**
         * Re-estimates the running statistics of every {@code BatchNorm} on the calibration inputs
         * after the layers are compressed (default false; {@link BatchNormStatistics}). For
         * data-free methods, call {@link BatchNormStatistics#reestimate} after the transform.
         *
         * @param recalibrate whether to re-estimate
         * @return this builder
         */
        public Builder optRecalibrateBatchNorm(boolean recalibrate) {
            this.recalibrateBatchNorm = recalibrate;
            return this;
        }

        /**
         * Rounds each layer with GPTQ onto the grid a quantizer fits to it, instead of learning
         * codebooks, scales and mappings (default: learn, i.e. JLCM). {@code new RtnQuantizer()} gives
         * classic GPTQ (per-row uniform levels); a {@code KMeansQuantizer} gives GPTQ onto grouped
         * k-means codebooks, the storage JLCM uses. Same calibration, stages and layer order as JLCM;
         * {@code Linear} layers only; the dampening is {@link #optDampening(float)}'s. A weight that is
         * also read as an embedding table (a word table tied to a decoder) should be left out with
         * {@link #optPathFilter} and rounded to nearest: GPTQ's compensation on the decoder's inputs
         * spoils the lookups (BERT-base, 3 bits: 16.3 % top-1 with the table, 46.2 % without).
         *
         * @param grid the grid's quantizer, or {@code null} to learn
         * @return this builder
         */
        public Builder optGptq(WeightQuantizer grid) {
            this.gptqGrid = grid;
            return this;
        }

        /**
         * Walks the model stage by stage (default true): calibration activations are held at the
         * current stage's input and each recording runs that stage only. Stages are those of an
         * {@link ai.djl.jlcm.pipeline.StagedBlock}, the children of a {@code SequentialBlock}, or the
         * whole model. With false, every recording pass runs from the model's input (the same
         * result, at a cost that grows with the square of the depth).
         *
         * @param staged whether to compress stage by stage
         * @return this builder
         */
        public Builder optStaged(boolean staged) {
            this.staged = staged;
            return this;
        }

        /**
         * Makes compression bit-reproducible (default false): the same model, calibration data, seed
         * and settings give byte-identical parameters. The engine then runs its operations on one
         * thread during {@code compress} (process-wide; PyTorch engine only), which is slower on a
         * machine with several cores.
         *
         * @param deterministic whether to compress deterministically
         * @return this builder
         */
        public Builder optDeterministic(boolean deterministic) {
            this.deterministic = deterministic;
            return this;
        }

        /**
         * Learns the layers inside some blocks together, against the block's output (block-wise
         * reconstruction) instead of each layer's own output. The outermost block on a layer's path
         * that the predicate accepts is its unit; the root block's path is the empty string, so
         * {@code p -> p.isEmpty()} learns all layers at once against the network's output. Default:
         * no units, every layer learned alone.
         *
         * @param units accepts the paths of unit blocks
         * @return this builder
         */
        public Builder optReconstructionUnits(Predicate<String> units) {
            this.units = units;
            return this;
        }

        /**
         * Sets the index width (default 2).
         *
         * @param bits 1 to 8
         * @return this builder
         */
        public Builder optBits(int bits) {
            this.bits = bits;
            return this;
        }

        /**
         * Sets the number of neuron groups per layer (default 4; capped at a layer's neuron count).
         *
         * @param groups the groups
         * @return this builder
         */
        public Builder optGroups(int groups) {
            this.groups = groups;
            return this;
        }

        /**
         * Sets the codebook mode (default MULTI).
         *
         * @param mode the mode
         * @return this builder
         */
        public Builder optMode(CodebookMode mode) {
            this.mode = mode;
            return this;
        }

        /**
         * Sets how mappings learn (default PROXIMAL).
         *
         * @param mapping the mapping update
         * @return this builder
         */
        public Builder optMapping(MappingUpdate mapping) {
            this.mapping = mapping;
            return this;
        }

        /**
         * Sets the optimization steps per layer (default 200; 0 keeps the k-means initialization).
         *
         * @param steps the steps
         * @return this builder
         */
        public Builder optSteps(int steps) {
            this.steps = steps;
            return this;
        }

        /**
         * Sets the learning rates (defaults 1e-3, 1e-3, 0.02).
         *
         * @param codebook codebook rate, relative to the codebook's RMS
         * @param scale scale rate, relative to the mean scale
         * @param latent latent rate, in mean codeword spacings per step
         * @return this builder
         */
        public Builder optLearningRates(float codebook, float scale, float latent) {
            this.codebookRate = codebook;
            this.scaleRate = scale;
            this.latentRate = latent;
            return this;
        }

        /**
         * Sets φ for an outward move at a codebook's edge (default 1: the latent may drift while the
         * mapping stays on the edge codeword; 0 forbids the move).
         *
         * @param edgePhi in [0, 1]
         * @return this builder
         */
        public Builder optEdgePhi(float edgePhi) {
            this.edgePhi = edgePhi;
            return this;
        }

        /**
         * Sets where PROXIMAL applies φ: to the latent's Adam step (default true), or to its
         * gradient before Adam (false: the literal form; Adam's per-coordinate normalization
         * largely undoes it).
         *
         * @param phiOnStep whether φ weights the step
         * @return this builder
         */
        public Builder optPhiOnStep(boolean phiOnStep) {
            this.phiOnStep = phiOnStep;
            return this;
        }

        /**
         * Sets SOFT's temperature in mean codeword spacings (default 0.5).
         *
         * @param temperature the temperature
         * @return this builder
         */
        public Builder optSoftTemperature(float temperature) {
            this.softTemperature = temperature;
            return this;
        }

        /**
         * Sets the Gram dampening λ of linear layers' loss (default 0.01).
         *
         * @param dampening λ ≥ 0
         * @return this builder
         */
        public Builder optDampening(float dampening) {
            this.dampening = dampening;
            return this;
        }

        /**
         * Sets the seed of the neuron grouping (default 0).
         *
         * @param seed the seed
         * @return this builder
         */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * Sets the layer types to compress (default: Linear, Conv1d, Conv2d, Conv3d).
         *
         * @param types the types
         * @return this builder
         */
        public Builder optLayerTypes(Set<Class<? extends Block>> types) {
            this.layerTypes = types;
            return this;
        }

        /**
         * Sets a predicate on layer paths (default: all).
         *
         * @param pathFilter the predicate
         * @return this builder
         */
        public Builder optPathFilter(Predicate<String> pathFilter) {
            this.pathFilter = pathFilter;
            return this;
        }

        /**
         * Skips layers with fewer weights (default 0).
         *
         * @param minWeights the minimum weight count
         * @return this builder
         */
        public Builder optMinWeights(long minWeights) {
            this.minWeights = minWeights;
            return this;
        }

        /**
         * Builds the compressor.
         *
         * @return the compressor
         * @throws IllegalArgumentException if a setting is out of range
         */
        public Jlcm build() {
            CompressedWeight.checkBits(bits);
            if (groups < 1) {
                throw new IllegalArgumentException("groups must be positive: " + groups);
            }
            if (steps < 0) {
                throw new IllegalArgumentException("steps must not be negative: " + steps);
            }
            if (!(codebookRate >= 0 && scaleRate >= 0 && latentRate >= 0)) {
                throw new IllegalArgumentException("learning rates must be >= 0");
            }
            if (!(edgePhi >= 0 && edgePhi <= 1)) {
                throw new IllegalArgumentException("edgePhi must be in [0, 1]: " + edgePhi);
            }
            if (!(softTemperature > 0) || !(dampening >= 0)) {
                throw new IllegalArgumentException("temperature must be > 0 and dampening >= 0");
            }
            if (mode == null || mapping == null) {
                throw new IllegalArgumentException("mode and mapping must not be null");
            }
            return new Jlcm(this);
        }
    }
}
