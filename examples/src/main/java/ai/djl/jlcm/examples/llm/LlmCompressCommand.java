package ai.djl.jlcm.examples.llm;

import ai.djl.Model;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.examples.cli.ModelDirectories;
import ai.djl.jlcm.export.ModelDirectory;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.learn.JlcmReport;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;

import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
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
            "data-free with RTN or k-means codebooks and write a DJL model directory. The checkpoint streams:",
            "one stage's float weights are read, compressed and freed at a time. Ends with one JSON line."
        })
final class LlmCompressCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, description = "the float checkpoint directory")
    Path checkpoint;

    @Option(names = "--method", defaultValue = "kmeans", description = "rtn or kmeans (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--bits", defaultValue = "4", description = "bits per weight index, 1..8 (default: ${DEFAULT-VALUE})")
    int bits;

    @Option(names = "--target-bits", description = "allocate widths per layer so that the whole model stores at most this many bits per weight (replaces --bits)")
    Double targetBits;

    @Option(names = "--groups", defaultValue = "1", description = "k-means: neuron groups per layer (default: ${DEFAULT-VALUE})")
    int groups;

    @Option(names = "--out", required = true, description = "the model directory to write (absent or empty)")
    Path out;

    @Option(names = "--overwrite", description = "replace --out if it holds a model directory written by djl-jlcm")
    boolean overwrite;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        Method m = Method.fromLabel(method);
        if (m.isCalibrated()) {
            throw new IllegalArgumentException("--method " + method + " needs calibration data; llm compress offers rtn and kmeans");
        }
        if (bits < 1 || bits > 8) {
            throw new IllegalArgumentException("--bits must be in 1..8, got " + bits);
        }
        ModelDirectory.checkDestination(out, overwrite);
        CompressionPlan plan = CompressionPlan.of(
                LayerSettings.builder().optMethod(m).optBits(bits).optGroups(groups).optMode(CodebookMode.MULTI).build());
        long floatParams;
        JlcmReport report;
        double seconds;
        try (LlamaCheckpoint.Staged staged = LlamaCheckpoint.open(checkpoint)) {
            Model model = staged.model();
            LlamaModel llama = (LlamaModel) model.getBlock();
            floatParams = llama.getConfig().parameterCount();
            long start = System.nanoTime();
            // data-free: each stage's float weights are read, compressed and freed before the next
            Jlcm.Builder jlcm = Jlcm.builder().optPlan(plan).optFloatSource(staged.source());
            if (targetBits != null) {
                jlcm.optTargetBitsPerWeight(targetBits);
            }
            report = jlcm.build().compress(llama, List.of(), model.getNDManager());
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
            json.addProperty("bits", bits);
            if (targetBits != null) {
                json.addProperty("target_bits_per_weight", targetBits);
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
}
