package ai.djl.jlcm.examples.llm;

import ai.djl.Model;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;

import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code jlcm llm perplexity}: the perplexity of a model on a file of token ids. */
@Command(
        name = "perplexity",
        mixinStandardHelpOptions = true,
        description = {
            "Perplexity of a float checkpoint or a compressed model directory on a text given as token",
            "ids (separated by white space or commas), in consecutive windows. Ends with one JSON line."
        })
final class LlmPerplexityCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, description = "a checkpoint directory or a directory written by 'llm compress'")
    Path model;

    @Option(names = "--text", required = true, description = "a file of token ids")
    Path text;

    @Option(names = "--window", defaultValue = "256", description = "tokens per window, at most max_position_embeddings (default: ${DEFAULT-VALUE})")
    int window;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        int[] ids = LmText.readIds(text);
        if (ids.length < 2) {
            throw new IllegalArgumentException(text + " holds " + ids.length + " token(s); perplexity needs at least 2");
        }
        Score score;
        try (Model m = LlmCommand.open(model)) {
            score = score((LlamaModel) m.getBlock(), m.getNDManager(), ids, window, text.toString());
        }
        double nll = score.nll();
        long predicted = score.predicted();
        int windows = score.windows();
        double ppl = score.perplexity();
        System.out.printf(Locale.ROOT, "| tokens | windows | predicted | mean NLL | perplexity |%n|---|---|---|---|---|%n");
        System.out.printf(Locale.ROOT, "| %d | %d | %d | %.4f | %.3f |%n", ids.length, windows, predicted, nll / predicted, ppl);
        JsonObject json = new JsonObject();
        json.addProperty("model", model.toString());
        json.addProperty("tokens", ids.length);
        json.addProperty("windows", windows);
        json.addProperty("predicted_tokens", predicted);
        json.addProperty("mean_nll", nll / predicted);
        json.addProperty("perplexity", ppl);
        System.out.println(json);
        return 0;
    }

    /**
     * A model's score on a text.
     *
     * @param windows the windows run
     * @param predicted the tokens predicted
     * @param nll their summed negative log-likelihood (nats)
     */
    record Score(int windows, long predicted, double nll) {

        /**
         * Returns the perplexity.
         *
         * @return {@code exp(nll / predicted)}
         */
        double perplexity() {
            return Math.exp(nll / predicted);
        }
    }

    /**
     * Scores a model on token ids in consecutive windows (each window's first token is context only).
     *
     * @param llama the model
     * @param manager the manager for temporary arrays
     * @param ids the tokens
     * @param window the tokens per window
     * @param source names the ids in errors
     * @return the score
     */
    static Score score(LlamaModel llama, NDManager manager, int[] ids, int window, String source) {
        LlamaConfig config = llama.getConfig();
        if (window < 2 || window > config.maxPositions()) {
            throw new IllegalArgumentException("--window must be in [2, " + config.maxPositions() + "], got " + window);
        }
        for (int t : ids) {
            if (t < 0 || t >= config.vocabSize()) {
                throw new IllegalArgumentException(source + ": token " + t + " is outside the vocabulary [0, " + config.vocabSize() + ")");
            }
        }
        double nll = 0;
        long predicted = 0;
        int windows = 0;
        for (int start = 0; start + 1 < ids.length; start += window) {
            int[] w = Arrays.copyOfRange(ids, start, Math.min(ids.length, start + window));
            if (w.length < 2) {
                break;
            }
            try (NDManager pass = manager.newSubManager()) {
                float[] logits = llama.forward(new ParameterStore(pass, false),
                        new NDList(pass.create(w, new Shape(1, w.length))), false).head().toFloatArray();
                nll += negativeLogLikelihood(logits, w, config.vocabSize());
            }
            predicted += w.length - 1;
            windows++;
        }
        return new Score(windows, predicted, nll);
    }

    /** The summed negative log-likelihood of tokens 1.. of a window given the logits of 0..n-2. */
    static double negativeLogLikelihood(float[] logits, int[] w, int vocab) {
        double sum = 0;
        for (int p = 0; p + 1 < w.length; p++) {
            int base = p * vocab;
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, logits[base + v]);
            }
            double z = 0;
            for (int v = 0; v < vocab; v++) {
                z += Math.exp(logits[base + v] - max);
            }
            sum += max + Math.log(z) - logits[base + w[p + 1]];
        }
        return sum;
    }
}
