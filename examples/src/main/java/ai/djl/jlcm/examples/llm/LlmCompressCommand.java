package ai.djl.jlcm.examples.llm;

import ai.djl.Model;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.allocation.Sensitivity;
import ai.djl.jlcm.examples.cli.ModelDirectories;
import ai.djl.jlcm.examples.cli.AllocationOptions;
import ai.djl.jlcm.export.ModelDirectory;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.learn.JlcmReport;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code jlcm llm compress}: a float checkpoint compressed data-free (RTN or k-means) into a model
 * directory that {@code llm generate} and DJL's {@code Criteria} load.
 */
@Command(
        name = "compress",
        mixinStandardHelpOptions = true,
        description = {
            "Compress every Linear of a float Llama checkpoint (projections, LM head and the token table)",
            "data-free with RTN or k-means codebooks, or with JLCM learned on calibration token ids, and write",
            "a DJL model directory. The checkpoint streams:",
            "one stage's float weights are read, compressed and freed at a time. Ends with one JSON line."
        })
final class LlmCompressCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, description = "the float checkpoint directory")
    Path checkpoint;

    @Option(names = "--method", defaultValue = "kmeans", description = "rtn, kmeans or jlcm (needs --calibration) (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--bits", defaultValue = "4", description = "bits per weight index, 1..8 (default: ${DEFAULT-VALUE})")
    int bits;

    @Option(names = "--target-bits", description = "allocate widths per layer so that the whole model stores at most this many bits per weight (replaces --bits)")
    Double targetBits;

    @Mixin AllocationOptions allocationOptions = new AllocationOptions();

    @Option(names = "--groups", defaultValue = "1", description = "k-means: neuron groups per layer (default: ${DEFAULT-VALUE})")
    int groups;

    @Option(names = "--calibration", description = "jlcm: token ids of calibration text (white space or commas), cut into --calibration-windows windows")
    Path calibration;

    @Option(names = "--calibration-windows", defaultValue = "8", description = "jlcm: windows of --window tokens spread over --calibration (default: ${DEFAULT-VALUE})")
    int calibrationWindows;

    @Option(names = "--window", defaultValue = "128", description = "jlcm: tokens per calibration window (default: ${DEFAULT-VALUE})")
    int window;

    @Option(names = "--steps", description = "jlcm: learning steps per layer (default: the plan's, 100)")
    Integer steps;

    @Option(names = "--out", required = true, description = "the model directory to write (absent or empty)")
    Path out;

    @Option(names = "--overwrite", description = "replace --out if it holds a model directory written by djl-jlcm")
    boolean overwrite;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        Method m = Method.fromLabel(method);
        if (m.isCalibrated() && m != Method.JLCM) {
            throw new IllegalArgumentException("--method " + method + ": llm compress offers rtn, kmeans and jlcm");
        }
        if (m.isCalibrated() != (calibration != null)) {
            throw new IllegalArgumentException(m.isCalibrated()
                    ? "--method jlcm learns from calibration text: give --calibration FILE (token ids)"
                    : "--calibration applies to --method jlcm; " + m.label() + " is data-free");
        }
        allocationOptions.check(targetBits != null);
        Sensitivity sensitivity = allocationOptions.resolve(m.isCalibrated());
        if (sensitivity == Sensitivity.FISHER && !m.isCalibrated()) {
            throw new IllegalArgumentException("--sensitivity fisher measures on calibration text, which --method jlcm takes");
        }
        if (steps != null && !m.isCalibrated()) {
            throw new IllegalArgumentException("--steps applies to --method jlcm; " + m.label() + " learns nothing");
        }
        if (bits < 1 || bits > 8) {
            throw new IllegalArgumentException("--bits must be in 1..8, got " + bits);
        }
        if (calibrationWindows < 1 || window < 2 || (steps != null && steps < 1)) {
            throw new IllegalArgumentException("--calibration-windows and --steps must be positive and --window at least 2");
        }
        ModelDirectory.checkDestination(out, overwrite);
        LayerSettings.Builder settings = LayerSettings.builder().optMethod(m).optBits(bits).optGroups(groups).optMode(CodebookMode.MULTI);
        if (steps != null) {
            settings.optSteps(steps);
        }
        int[] calibrationIds = calibration == null ? null : LmText.readIds(calibration);
        long floatParams;
        JlcmReport report;
        double seconds;
        try (LlamaCheckpoint.Staged staged = LlamaCheckpoint.open(checkpoint)) {
            Model model = staged.model();
            LlamaModel llama = (LlamaModel) model.getBlock();
            floatParams = llama.getConfig().parameterCount();
            CompressionPlan.Builder plan = CompressionPlan.builder().optDefaults(settings.build());
            if (m == Method.JLCM && !llama.getConfig().tieWordEmbeddings()) {
                // an untied token table is only looked up, never multiplied: it has no layer input to
                // learn from, so it gets k-means, JLCM's initialization
                plan.optForPath("^embed_tokens$", LayerSettings.builder().optMethod(Method.KMEANS).build());
            }
            long start = System.nanoTime();
            // each stage's float weights are read when it starts and freed once it is compressed
            Jlcm.Builder jlcm = Jlcm.builder().optPlan(plan.build()).optFloatSource(staged.source());
            if (targetBits != null) {
                jlcm.optTargetBitsPerWeight(targetBits).optSensitivity(sensitivity).optMinBits(allocationOptions.minBits());
            }
            try (NDManager batches = model.getNDManager().newSubManager()) {
                List<NDList> inputs = calibrationIds == null
                        ? List.of()
                        : LmText.batches(batches, windows(calibrationIds, llama.getConfig()), window);
                report = jlcm.build().compress(llama, inputs, model.getNDManager());
            }
            seconds = (System.nanoTime() - start) / 1e9;
            ModelExporter.Builder b = ModelExporter.builder()
                    .optModelName("llama")
                    .optArchitectureFactory(LlamaBlockFactory.class.getName())
                    .optOverwrite(overwrite);
            for (Map.Entry<String, String> e : LlamaBlockFactory.properties(llama.getConfig()).entrySet()) {
                b.optServingProperty(e.getKey(), e.getValue());
            }
            b.build().export(model, out);
            ModelSize size = ModelSize.of(llama);
            long fileBytes = ModelDirectories.paramsBytes(out);
            System.out.printf(Locale.ROOT, "| method | bits | layers | bits/weight (compressed layers) | bits/weight (whole model) | float parameters | stored bytes | file bytes | seconds |%n");
            System.out.printf(Locale.ROOT, "|---|---|---|---|---|---|---|---|---|%n");
            System.out.printf(Locale.ROOT, "| %s | %s | %d | %.3f | %.3f | %d | %d | %d | %.1f |%n",
                    m.label(), targetBits == null ? Integer.toString(bits) : "target " + targetBits, report.layerCount(),
                    size.bitsPerWeight(), size.modelBitsPerWeight(), floatParams, size.storedBytes(), fileBytes, seconds);
            JsonObject json = new JsonObject();
            json.addProperty("checkpoint", checkpoint.toString());
            json.addProperty("out", out.toString());
            json.addProperty("method", m.label());
            if (targetBits == null) {
                json.addProperty("bits", bits);
            } else {
                json.addProperty("target_bits_per_weight", targetBits);
                json.addProperty("sensitivity", AllocationOptions.name(sensitivity));
                json.addProperty("min_bits", allocationOptions.minBits());
            }
            json.addProperty("layers", report.layerCount());
            json.addProperty("bits_per_weight", size.bitsPerWeight());
            json.addProperty("model_bits_per_weight", size.modelBitsPerWeight());
            json.addProperty("float_parameters", floatParams);
            json.addProperty("stored_bytes", size.storedBytes());
            json.addProperty("file_bytes", fileBytes);
            json.addProperty("seconds", seconds);
            System.out.println(json);
        }
        return 0;
    }

    /** The calibration windows, checked against the model's vocabulary and context. */
    private int[] windows(int[] ids, LlamaConfig config) {
        if (window > config.maxPositions()) {
            throw new IllegalArgumentException("--window " + window + " exceeds max_position_embeddings " + config.maxPositions());
        }
        for (int id : ids) {
            if (id < 0 || id >= config.vocabSize()) {
                throw new IllegalArgumentException(calibration + " holds token " + id + ", outside the vocabulary [0, " + config.vocabSize() + ")");
            }
        }
        if (ids.length < window) {
            throw new IllegalArgumentException(
                    calibration + " holds " + ids.length + " tokens, fewer than one --window of " + window);
        }
        return LmText.spread(ids, calibrationWindows, window);
    }
}
