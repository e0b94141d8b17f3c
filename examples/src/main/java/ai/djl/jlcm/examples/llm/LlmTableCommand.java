package ai.djl.jlcm.examples.llm;

import ai.djl.Model;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.examples.bert.MlmProtocol;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.ndarray.NDManager;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code jlcm llm table}: the trained decoder of {@code llm train} compressed at each bit width with
 * each method (every {@code Linear}, the tied token table and head included), and the perplexity of
 * every row on the Brown evaluation split and on Moby-Dick.
 */
@Command(
        name = "table",
        mixinStandardHelpOptions = true,
        description = {
            "Compress the decoder 'llm train' trains (or finds cached) with rtn, kmeans-1, kmeans-grouped and",
            "jlcm (calibrated on Brown calibration windows) at each --bits, and print the perplexity of every row",
            "on the Brown evaluation split and on Moby-Dick as a Markdown table. Ends with one JSON line."
        })
final class LlmTableCommand implements Callable<Integer> {

    /** The methods of the table, in order. */
    enum Row {
        /** Round to nearest on a per-row uniform grid. */
        RTN,
        /** One k-means codebook per layer. */
        KMEANS_1,
        /** One k-means codebook per neuron group. */
        KMEANS_GROUPED,
        /** Grouped codebooks learned on calibration windows. */
        JLCM;

        String label() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        static Row of(String label) {
            for (Row r : values()) {
                if (r.label().equals(label.strip().toLowerCase(Locale.ROOT))) {
                    return r;
                }
            }
            throw new IllegalArgumentException("unknown method '" + label + "'; choose rtn, kmeans-1, kmeans-grouped or jlcm");
        }
    }

    @Mixin LlmTrainOptions options;

    @Option(names = "--bits", split = ",", description = "bit widths (default: ${DEFAULT-VALUE})")
    int[] bits = {2, 3, 4};

    @Option(names = "--methods", split = ",", description = "rtn, kmeans-1, kmeans-grouped, jlcm (default: all)")
    List<String> methods = List.of("rtn", "kmeans-1", "kmeans-grouped", "jlcm");

    @Option(names = "--groups", description = "neuron groups per layer of kmeans-grouped and jlcm (default: ${DEFAULT-VALUE})")
    int groups = 4;

    @Option(names = "--calibration-windows", description = "jlcm: Brown calibration windows of --context bytes (default: ${DEFAULT-VALUE})")
    int calibrationWindows = 8;

    @Option(names = "--jlcm-steps", description = "jlcm: learning steps per layer (default: ${DEFAULT-VALUE})")
    int jlcmSteps = 25;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        LlmTraining.Recipe recipe = options.recipe();
        List<Row> rows = new ArrayList<>();
        for (String m : methods) {
            rows.add(Row.of(m));
        }
        for (int b : bits) {
            if (b < 1 || b > 8) {
                throw new IllegalArgumentException("--bits must be in 1..8, got " + b);
            }
        }
        if (groups < 1 || calibrationWindows < 1 || jlcmSteps < 1) {
            throw new IllegalArgumentException("--groups, --calibration-windows and --jlcm-steps must be positive");
        }
        LlmTrainOptions.Texts texts = LlmTrainOptions.Texts.fetch(options.cache);
        Path checkpoint = texts.checkpoint(recipe);
        LlmTrainOptions.Evaluation evaluation = LlmTrainOptions.Evaluation.of(texts, options);
        int[] calibration = LmText.spread(LmText.brown(texts.corpus(), MlmProtocol.Split.CALIBRATION),
                calibrationWindows, options.context);
        long parameters = recipe.config().parameterCount();

        System.out.printf(Locale.ROOT, "| method | bits | bits/weight (compressed layers) | bits/weight (whole model) | stored bytes | ppl Brown eval | ppl Moby-Dick | compress seconds |%n");
        System.out.printf(Locale.ROOT, "|---|---|---|---|---|---|---|---|%n");
        JsonArray jsonRows = new JsonArray();
        try (Model model = LlamaCheckpoint.loadModel(checkpoint)) {
            LlmPerplexityCommand.Score[] scores = evaluation.score(model);
            long bytes = ModelSize.of(model.getBlock()).storedBytes();
            System.out.printf(Locale.ROOT, "| float | 32 | 32 | 32 | %d |%s - |%n", bytes, LlmTrainOptions.Evaluation.cells(scores));
            jsonRows.add(row("float", 32, 32, bytes, scores, 0));
        }
        for (int b : bits) {
            for (Row r : rows) {
                try (Model model = LlamaCheckpoint.loadModel(checkpoint);
                        NDManager m = model.getNDManager().newSubManager()) {
                    long start = System.nanoTime();
                    Jlcm.builder().optPlan(plan(r, b)).build().compress(model, LmText.batches(m, calibration, options.context));
                    double seconds = (System.nanoTime() - start) / 1e9;
                    ModelSize size = ModelSize.of(model.getBlock());
                    LlmPerplexityCommand.Score[] scores = evaluation.score(model);
                    System.out.printf(Locale.ROOT, "| %s | %d | %.3f | %.3f | %d |%s %.1f |%n", r.label(), b, size.bitsPerWeight(),
                            8.0 * size.storedBytes() / parameters, size.storedBytes(), LlmTrainOptions.Evaluation.cells(scores), seconds);
                    jsonRows.add(row(r.label(), b, size.bitsPerWeight(), size.storedBytes(), scores, seconds));
                }
            }
        }
        JsonObject json = new JsonObject();
        json.addProperty("checkpoint", checkpoint.toString());
        json.addProperty("parameters", parameters);
        json.addProperty("eval_tokens", evaluation.brown().length);
        json.add("rows", jsonRows);
        System.out.println(json);
        return 0;
    }

    /** The plan of a row: every {@code Linear} with the row's method, {@code bits} and groups. */
    private CompressionPlan plan(Row r, int b) {
        Method method = r == Row.RTN ? Method.RTN : r == Row.JLCM ? Method.JLCM : Method.KMEANS;
        int g = r == Row.KMEANS_GROUPED || r == Row.JLCM ? groups : 1;
        return CompressionPlan.of(LayerSettings.builder().optMethod(method).optBits(b).optGroups(g)
                .optMode(CodebookMode.MULTI).optSteps(jlcmSteps).build());
    }

    private static JsonObject row(String method, int b, double bitsPerWeight, long storedBytes,
            LlmPerplexityCommand.Score[] scores, double seconds) {
        JsonObject o = new JsonObject();
        o.addProperty("method", method);
        o.addProperty("bits", b);
        o.addProperty("bits_per_weight", bitsPerWeight);
        o.addProperty("stored_bytes", storedBytes);
        LlmTrainOptions.Evaluation.addTo(o, scores);
        o.addProperty("seconds", seconds);
        return o;
    }
}
