package ai.djl.jlcm.examples.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;

import java.util.Random;

/**
 * Autoregressive generation with a {@link KvCache}: the prompt in one pass, then one token per pass.
 * Greedy ({@code temperature <= 0}) or sampling from {@code softmax(logits / temperature)} with a
 * seeded generator.
 */
public final class LlamaGenerator {

    private final LlamaModel model;
    private final double temperature;
    private final Random random;

    /**
     * Creates a generator.
     *
     * @param model the initialized model
     * @param temperature 0 (or less) for greedy decoding, else the sampling temperature
     * @param seed the seed of the sampling
     */
    public LlamaGenerator(LlamaModel model, double temperature, long seed) {
        this.model = model;
        this.temperature = temperature;
        this.random = new Random(seed);
    }

    /**
     * Generates tokens after a prompt.
     *
     * @param manager the manager under which the pass arrays and the cache live (and are freed)
     * @param prompt the prompt's token ids (at least one)
     * @param maxNewTokens how many tokens to generate
     * @return the new tokens
     * @throws IllegalArgumentException if the prompt is empty, a token is out of the vocabulary, or
     *     prompt and new tokens exceed {@code max_position_embeddings}
     */
    public int[] generate(NDManager manager, int[] prompt, int maxNewTokens) {
        LlamaConfig config = model.getConfig();
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt has no tokens");
        }
        for (int t : prompt) {
            if (t < 0 || t >= config.vocabSize()) {
                throw new IllegalArgumentException("token " + t + " is outside the vocabulary [0, " + config.vocabSize() + ")");
            }
        }
        if (prompt.length + maxNewTokens > config.maxPositions()) {
            throw new IllegalArgumentException(
                    prompt.length + " prompt and " + maxNewTokens + " new tokens exceed max_position_embeddings "
                            + config.maxPositions());
        }
        int[] out = new int[maxNewTokens];
        ParameterStore ps = new ParameterStore(manager, false);
        try (NDManager m = manager.newSubManager(); KvCache cache = new KvCache(m, config.layers())) {
            int[] next = prompt;
            for (int i = 0; i < maxNewTokens; i++) {
                float[] last;
                try (NDManager pass = m.newSubManager()) {
                    NDArray ids = pass.create(next, new Shape(1, next.length));
                    NDArray logits = model.forward(ps, ids, cache);
                    last = logits.get(0, next.length - 1).toFloatArray();
                }
                out[i] = choose(last);
                next = new int[] {out[i]};
            }
        }
        return out;
    }

    private int choose(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        if (temperature <= 0) {
            return best;
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp((logits[i] - logits[best]) / temperature);
            sum += p[i];
        }
        double u = random.nextDouble() * sum;
        for (int i = 0; i < p.length; i++) {
            u -= p[i];
            if (u < 0) {
                return i;
            }
        }
        return best;
    }
}
