package ai.djl.jlcm;

import ai.djl.Model;
import ai.djl.jlcm.allocation.Allocation;
import ai.djl.jlcm.allocation.BitAllocation;
import ai.djl.jlcm.allocation.FisherInformation;
import ai.djl.jlcm.allocation.Sensitivity;
import ai.djl.jlcm.allocation.SizeBudget;
import ai.djl.jlcm.learn.BatchNormStatistics;
import ai.djl.jlcm.learn.FineTuneReport;
import ai.djl.jlcm.learn.FineTuner;
import ai.djl.jlcm.learn.FineTuning;
import ai.djl.jlcm.learn.JlcmReport;
import ai.djl.jlcm.learn.MappingUpdate;
import ai.djl.jlcm.learn.SequentialCompressor;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.pipeline.FloatSource;
import ai.djl.jlcm.pipeline.ResidentMemory;
import ai.djl.jlcm.pipeline.Stage;
import ai.djl.jlcm.pipeline.Stages;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.jlcm.transform.ReplacedLayer;
import ai.djl.jlcm.transform.Replacements;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Dataset;
import ai.djl.translate.TranslateException;
import ai.djl.util.Progress;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
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
 * <p>What each layer gets comes from a {@link CompressionPlan} ({@link Builder#optPlan}): per-type
 * and per-path bits, methods and learning settings.
 *
 * <p>Layers are compressed one at a time in network order, each against the float network's output
 * on inputs from the partly compressed network: neurons are grouped by weight distribution,
 * codebooks initialized by importance-weighted k-means, then codebooks, scales and mappings learned
 * with Adam (mapping update {@link MappingUpdate#PROXIMAL} by default).
 */
public final class Jlcm {

    private static final Logger logger = LoggerFactory.getLogger(Jlcm.class);

    private final CompressionPlan plan;
    private final Predicate<String> units;
    private final boolean deterministic;
    private final boolean staged;
    private final boolean recalibrateBatchNorm;
    private final Path workDir;
    private final FloatSource source;
    private final Progress progress;
    private final Double targetBitsPerWeight;
    private final Sensitivity sensitivity;
    private final int minBits;
    private final FineTuning fineTune;

    private Jlcm(Builder b) {
        sensitivity = b.sensitivity;
        minBits = b.minBits;
        fineTune = b.fineTune;
        workDir = b.workDir;
        source = b.source;
        progress = b.progress;
        targetBitsPerWeight = b.targetBitsPerWeight;
        recalibrateBatchNorm = b.recalibrateBatchNorm;
        deterministic = b.deterministic;
        staged = b.staged;
        units = b.units;
        plan =
                b.plan.toBuilder()
                        .optDefaults(b.plan.getDefaults().overriddenBy(b.defaults.build()))
                        .build()
                        .withDefaultMethod(Method.JLCM);
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
     * Returns the plan this compressor applies (JLCM for layers no rule gives a method).
     *
     * @return the plan
     */
    public CompressionPlan getPlan() {
        return plan;
    }

    /**
     * Compresses the selected layers of a model in place: those the plan gives a data-free method
     * (RTN, KMEANS) first, then the calibrated ones (JLCM, GPTQ) from the calibration inputs. A plan
     * with data-free methods only reads no calibration input (an empty list will do).
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
        List<NDList> batches = new ArrayList<>();
        calibration.forEach(batches::add);
        if (fineTune != null && source != null) {
            SequentialCompressor.checkKeepsFloatOutputs(workDir); // before the allocation changes anything
        }
        CompressionPlan plan = targetBitsPerWeight == null ? this.plan : allocate(block, batches, manager).applyTo(this.plan);
        CodebookTransformer transformer = CodebookTransformer.builder().optPlan(plan).build();
        Map<String, LayerSettings> selected = transformer.selectedLayers(block);
        if (selected.isEmpty()) {
            throw new IllegalArgumentException("The layer selection matches no layer of the model");
        }
        boolean calibrated = selected.values().stream().anyMatch(l -> l.getMethod().isCalibrated());
        if (fineTune != null && batches.isEmpty()) {
            throw new IllegalArgumentException("Fine-tuning needs calibration inputs");
        }
        if (fineTune != null && source != null && !calibrated) {
            throw new IllegalArgumentException(
                    "Fine-tuning a model read from a float source needs a calibrated method (JLCM, GPTQ) for"
                            + " some layer: the float outputs come from its stage-by-stage pass");
        }
        try (NDManager outputs = manager.newSubManager()) {
            // without a source the float model is whole in the tree: its outputs are exact
            List<NDList> floatOutputs =
                    fineTune != null && source == null ? FineTuner.outputs(block, batches, outputs) : null;
            List<ReplacedLayer> dataFree =
                    source == null
                            ? transformer.transformDataFree(block).layers()
                            : dataFreeByStage(block, transformer, !calibrated);
            JlcmReport report = new JlcmReport(List.of(), List.of(), List.of(), 0, null);
            if (calibrated) {
                SequentialCompressor compressor = new SequentialCompressor(plan, units, staged, workDir, source, progress);
                if (fineTune != null && floatOutputs == null) {
                    compressor.keepFloatOutputs(outputs);
                }
                report = compressor.compress(block, batches, manager);
                if (floatOutputs == null && fineTune != null) {
                    floatOutputs = compressor.floatOutputs();
                    if (floatOutputs == null) { // checkKeepsFloatOutputs refused the one run that keeps none
                        throw new IllegalStateException("The compression kept no float outputs to fine-tune to");
                    }
                }
            }
            FineTuneReport tuned =
                    fineTune == null ? null : FineTuner.run(block, batches, floatOutputs, fineTune, manager, progress);
            report = new JlcmReport(report.layers(), dataFree, report.stages(), report.seconds(), tuned);
            if (recalibrateBatchNorm) {
                BatchNormStatistics.reestimate(block, batches, manager);
            }
            return report;
        }
    }

    /** The widths of the size target, from the sensitivity the builder chose. */
    private Allocation allocate(Block block, List<NDList> batches, NDManager manager) {
        FisherInformation fisher = null;
        if (sensitivity == Sensitivity.FISHER) {
            if (batches.isEmpty()) {
                throw new IllegalArgumentException("A size target allocated by Fisher information needs calibration inputs");
            }
            Set<String> layers = CodebookTransformer.builder().optPlan(plan).build().selectedLayers(block).keySet();
            // on one thread, so that a resumed run allocates the same widths (its plan must match)
            try (SingleThreadedEngine hold = SingleThreadedEngine.hold(manager.getEngine())) {
                fisher = FisherInformation.measure(block, layers, batches, source, plan.resolvedDefaults().getSeed(), manager);
            }
        }
        return BitAllocation.allocate(block, plan, targetBitsPerWeight, source, fisher, minBits);
    }

    /**
     * Compresses the data-free layers of a model whose float weights come from the source, a stage
     * at a time: the stage is loaded, its data-free layers are replaced and their float weights
     * freed, so that at most one stage's float weights are resident. The stage's other parameters
     * (norms, biases, layers a calibrated method compresses later) stay loaded. Stages without
     * data-free layers are loaded only if {@code loadAll} (no calibrated pass will load them).
     */
    private List<ReplacedLayer> dataFreeByStage(Block block, CodebookTransformer transformer, boolean loadAll) {
        List<ReplacedLayer> out = new ArrayList<>();
        List<Stage> stages = Stages.of(block);
        for (int s = 0; s < stages.size(); s++) {
            Stage stage = stages.get(s);
            List<String> floatLayers = new ArrayList<>();
            transformer.selectedLayers(block).forEach((path, settings) -> {
                if (stage.owns(path) && !settings.getMethod().isCalibrated()) {
                    floatLayers.add(path);
                }
            });
            if (floatLayers.isEmpty() && !loadAll) {
                continue;
            }
            long start = System.nanoTime();
            try {
                source.load(stage);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            System.gc(); // the values read in Java are garbage once in the engine
            for (String path : floatLayers) {
                out.addAll(transformer.transformDataFree(block, path::equals, Jlcm::releasedWeight).layers());
                System.gc(); // the layer's Java copies (hundreds of MB in a 7B model) are garbage now
            }
            logger.info(
                    "Stage {} ({}/{}): {} data-free layers in {} s, peak resident {} MB",
                    stage.name(),
                    s + 1,
                    stages.size(),
                    floatLayers.size(),
                    String.format(Locale.ROOT, "%.1f", (System.nanoTime() - start) / 1e9),
                    ResidentMemory.peakBytes() / 1_000_000);
        }
        return out;
    }

    /**
     * Returns a layer's weight values and frees its float weight array, which the source loaded
     * only for this copy: the quantizer works on the copy, and the layer is replaced by its
     * compressed form. The weight only: the codebook block takes the layer's bias array.
     */
    private static float[] releasedWeight(String path, Block layer) {
        float[] values = Replacements.denseWeight(path, layer);
        layer.getDirectParameters().get("weight").getArray().close();
        System.gc(); // DJL frees the memory of arrays made from Java data when they are collected
        return values;
    }

    /** Builds a {@link Jlcm}. */
    public static final class Builder {

        private CompressionPlan plan = CompressionPlan.builder().build();
        private final LayerSettings.Builder defaults = LayerSettings.builder();
        private Predicate<String> units = p -> false;
        private boolean deterministic;
        private boolean staged = true;
        private boolean recalibrateBatchNorm;
        private Path workDir;
        private FloatSource source;
        private Progress progress;
        private Double targetBitsPerWeight;
        private Sensitivity sensitivity = Sensitivity.WEIGHT_ERROR;
        private int minBits = CompressedWeight.MIN_BITS;
        private FineTuning fineTune;

        Builder() {}

        /**
         * Keeps a checkpoint in a work directory after each finished stage of the calibrated pass,
         * and resumes from the one found there (default none: everything stays in memory). The
         * directory must be absent, empty or hold a checkpoint of djl-jlcm; a checkpoint of another
         * run (another plan, stages, calibration inputs or float parameters) is refused. What is kept:
         * the finished stages' compressed layers, the two activation streams at the last finished
         * stage's end, and a manifest written last and atomically, so a run killed at any instant
         * resumes from the last finished stage. With {@link #optDeterministic(boolean) deterministic}
         * compression a resumed run gives byte-identical parameters to an uninterrupted one. The
         * directory is left in place when the run ends (a rerun then only reloads it).
         *
         * @param dir the work directory
         * @return this builder
         */
        public Builder optWorkDir(Path dir) {
            this.workDir = dir;
            return this;
        }

        /**
         * Reads the float parameters stage by stage from a source instead of the model's tree (default:
         * the tree holds them all): each stage's are read when the stage starts, and the float weights
         * of compressed layers are freed when no later stage runs them, so the float network is never
         * resident whole. With data-free layers in the plan, every stage is read before they are
         * compressed.
         *
         * @param source the source of the tree's float parameters
         * @return this builder
         */
        public Builder optFloatSource(FloatSource source) {
            this.source = source;
            return this;
        }

        /**
         * Shows progress on a bar (DJL's {@code ProgressBar} or any {@link Progress}), reset for each
         * stage with the stage's weight count and updated as each layer is done, with an ETA from the
         * weights done and left (default none; progress is always logged).
         *
         * @param progress the bar
         * @return this builder
         */
        public Builder optProgress(Progress progress) {
            this.progress = progress;
            return this;
        }

        /**
         * Chooses each compressed layer's index width (1 to 8 bits) so that the whole model stores at
         * most this many bits per parameter, every array counted ({@link
         * ai.djl.jlcm.export.ModelSize#modelBitsPerWeight()}), with the widths that minimize the
         * layers' predicted quantization error ({@link BitAllocation}). The widths replace the plan's
         * bits for those layers; its methods, groups and modes stay. Default: no target, the plan's
         * bits.
         *
         * @param bitsPerWeight the whole-model target, positive
         * @return this builder
         * @throws IllegalArgumentException if the target is not positive and finite
         */
        public Builder optTargetBitsPerWeight(double bitsPerWeight) {
            this.targetBitsPerWeight = SizeBudget.checkTarget(bitsPerWeight);
            return this;
        }

        /**
         * Sets how a size target ({@link #optTargetBitsPerWeight}) predicts each layer's loss at
         * each width (default {@link Sensitivity#WEIGHT_ERROR}, data-free). {@link
         * Sensitivity#FISHER} measures the float model's Fisher information on the calibration
         * inputs first, one backward pass per sample on one engine thread, with the whole float model
         * resident (a float source's stages are all loaded for it, then released).
         *
         * @param sensitivity the sensitivity
         * @return this builder
         */
        public Builder optSensitivity(Sensitivity sensitivity) {
            this.sensitivity = Objects.requireNonNull(sensitivity, "sensitivity");
            return this;
        }

        /**
         * Sets the narrowest width a size target ({@link #optTargetBitsPerWeight}) may give a layer
         * (default 1). The sensitivities predict each layer's cost from its data-free error, which
         * undervalues what a 1-bit layer costs the network once the errors compound (README, bit
         * allocation on BERT-base): a floor of 2 spends the same budget on fewer, wider steps.
         *
         * @param bits the narrowest width, 1 to 8
         * @return this builder
         * @throws IllegalArgumentException if the width is outside 1 to 8
         */
        public Builder optMinBits(int bits) {
            CompressedWeight.checkBits(bits);
            this.minBits = bits;
            return this;
        }

        /**
         * Fine-tunes the compressed model end to end after the layer-wise pass (default none; {@link
         * FineTuning}, {@link FineTuner}): codebooks, scales and optionally the uncompressed float
         * parameters learn to reproduce the float model's outputs on the calibration inputs, the
         * mappings fixed. Without a float source the target is the float model's output, computed
         * before compression; with one it is the stage-by-stage pass's float stream (float except
         * for the layers of data-free methods), kept after the last stage and in the work directory's
         * checkpoint, so that a finished checkpoint is fine-tuned again without recompressing.
         * Batch norms are re-estimated after fine-tuning when that is asked too.
         *
         * @param settings the fine-tuning settings, or null for none
         * @return this builder
         */
        public Builder optFineTune(FineTuning settings) {
            this.fineTune = settings;
            return this;
        }

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
         * Sets the plan: each layer's method (JLCM where no rule sets one; GPTQ and GPTQ_CODEBOOK
         * round with GPTQ instead of learning; RTN and KMEANS layers are compressed data-free before
         * the calibrated pass), bits, groups, mode and learning settings, and which layers are
         * compressed (default: the library defaults, every Linear and convolution). The shorthands
         * {@link #optBits}, {@link #optVectorLength}, {@link #optGroups}, {@link #optMode}, {@link
         * #optMapping} and {@link #optSteps} override the plan's defaults.
         *
         * <p>A weight that is also read as an embedding table (a word table tied to a decoder) should
         * be rounded data-free by a path rule when the default is a GPTQ method: GPTQ's compensation
         * on the decoder's inputs spoils the lookups (BERT-base, 3 bits: 16.3 % top-1 with the table,
         * 46.2 % without).
         *
         * @param plan the plan
         * @return this builder
         */
        public Builder optPlan(CompressionPlan plan) {
            this.plan = Objects.requireNonNull(plan, "plan");
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
         * Sets the plan's default index width (default {@value LayerSettings#DEFAULT_BITS}).
         *
         * @param bits 1 to 8
         * @return this builder
         */
        public Builder optBits(int bits) {
            defaults.optBits(bits);
            return this;
        }

        /**
         * Sets the plan's default vector length (default 1, scalar codebooks): {@code d} consecutive
         * weights of a row share one codeword of {@code d} values, an index of {@code bits·d} bits.
         * JLCM layers then start from GPTQ's rounding onto importance-weighted k-means codebooks and
         * learn the codebooks with FROZEN mappings; inside {@link #optReconstructionUnits units}
         * they start from the nearest codewords.
         *
         * @param vectorLength 1 to 8, dividing the rows of the layers it applies to
         * @return this builder
         */
        public Builder optVectorLength(int vectorLength) {
            defaults.optVectorLength(vectorLength);
            return this;
        }

        /**
         * Sets the plan's default neuron groups per layer (default 4; capped at a layer's neuron
         * count).
         *
         * @param groups the groups
         * @return this builder
         */
        public Builder optGroups(int groups) {
            defaults.optGroups(groups);
            return this;
        }

        /**
         * Sets the plan's default codebook mode (default MULTI, and SCALED for a layer at 1 bit: {@link
         * CompressionPlan}).
         *
         * @param mode the mode
         * @return this builder
         */
        public Builder optMode(CodebookMode mode) {
            defaults.optMode(mode);
            return this;
        }

        /**
         * Sets the plan's default mapping update (default PROXIMAL).
         *
         * @param mapping the mapping update
         * @return this builder
         */
        public Builder optMapping(MappingUpdate mapping) {
            defaults.optMapping(mapping);
            return this;
        }

        /**
         * Sets the plan's default optimization steps per layer (default 200; 0 keeps the k-means
         * initialization).
         *
         * @param steps the steps
         * @return this builder
         */
        public Builder optSteps(int steps) {
            defaults.optSteps(steps);
            return this;
        }

        /**
         * Builds the compressor.
         *
         * @return the compressor
         */
        public Jlcm build() {
            return new Jlcm(this);
        }
    }
}
