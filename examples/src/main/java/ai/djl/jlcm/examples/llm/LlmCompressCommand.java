package ai.djl.jlcm.examples.llm;

import ai.djl.Model;
import ai.djl.jlcm.examples.cli.ModelDirectories;
import ai.djl.jlcm.export.ModelDirectory;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.jlcm.transform.TransformReport;

import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
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
            "data-free with RTN or k-means codebooks and write a DJL model directory. Ends with one JSON line."
        })
final class LlmCompressCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, description = "the float checkpoint directory")
    Path checkpoint;

    @Option(names = "--method", defaultValue = "kmeans", description = "rtn or kmeans (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--bits", defaultValue = "4", description = "bits per weight index, 1..8 (default: ${DEFAULT-VALUE})")
    int bits;

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
        TransformReport report;
        double seconds;
        try (Model model = LlamaCheckpoint.loadModel(checkpoint)) {
            LlamaModel llama = (LlamaModel) model.getBlock();
            floatParams = llama.getConfig().parameterCount();
            long start = System.nanoTime();
            report = CodebookTransformer.builder().optPlan(plan).build().transform(llama);
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
            System.out.printf(Locale.ROOT, "| method | bits | layers | bits/weight | float parameters | stored bytes | file bytes | seconds |%n");
            System.out.printf(Locale.ROOT, "|---|---|---|---|---|---|---|---|%n");
            System.out.printf(Locale.ROOT, "| %s | %d | %d | %.3f | %d | %d | %d | %.1f |%n",
                    m.label(), bits, report.layers().size(), size.bitsPerWeight(), floatParams, size.storedBytes(), fileBytes, seconds);
            JsonObject json = new JsonObject();
            json.addProperty("checkpoint", checkpoint.toString());
            json.addProperty("out", out.toString());
            json.addProperty("method", m.label());
            json.addProperty("bits", bits);
            json.addProperty("layers", report.layers().size());
            json.addProperty("bits_per_weight", size.bitsPerWeight());
            json.addProperty("float_parameters", floatParams);
            json.addProperty("stored_bytes", size.storedBytes());
            json.addProperty("file_bytes", fileBytes);
            json.addProperty("seconds", seconds);
            System.out.println(json);
        }
        return 0;
    }
}
