package ai.djl.jlcm.examples.bert;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Masked-LM metrics over {@link MlmProtocol.MaskedSequence}s, and the model inputs built from them.
 *
 * <p>Model inputs are {@code NDList(tokenIds, typeIds, attentionMask[, maskedPositions])}, all
 * {@code INT64}: ids {@code (B, 128)}, type ids all 0, mask all 1 (no padding), positions {@code (B,
 * 18)}. The model's first output holds the logits at the given positions.
 */
public final class MlmEvaluation {

    private MlmEvaluation() {}

    /**
     * The metrics of one evaluation.
     *
     * @param sequences the number of sequences
     * @param maskedTokens the number of masked positions scored
     * @param correct how many of them had the true token as the top prediction
     * @param nllSum the summed negative log-likelihood (natural log) of the true tokens
     * @param seconds the wall time of the forward passes and scoring
     */
    public record Result(int sequences, long maskedTokens, long correct, double nllSum, double seconds) {

        /**
         * Returns the top-1 accuracy over masked tokens.
         *
         * @return {@code correct / maskedTokens}
         */
        public double top1() {
            return (double) correct / maskedTokens;
        }

        /**
         * Returns the mean negative log-likelihood of the true tokens.
         *
         * @return nats per masked token
         */
        public double meanNll() {
            return nllSum / maskedTokens;
        }

        /**
         * Returns the pseudo-perplexity.
         *
         * @return {@code exp(mean NLL)}
         */
        public double pseudoPerplexity() {
            return Math.exp(meanNll());
        }
    }

    /**
     * Evaluates a model whose block is a {@link BertMlm} (or any block with its inputs and outputs).
     *
     * @param model the model
     * @param data the masked sequences
     * @param batchSize sequences per forward pass
     * @return the metrics
     */
    public static Result evaluate(Model model, List<MlmProtocol.MaskedSequence> data, int batchSize) {
        return evaluate(model.getBlock(), model.getNDManager(), data, batchSize);
    }

    /**
     * Evaluates a block.
     *
     * @param block the block (inference mode)
     * @param manager a manager on the block's device; each batch uses a sub-manager
     * @param data the masked sequences
     * @param batchSize sequences per forward pass
     * @return the metrics
     */
    public static Result evaluate(
            Block block, NDManager manager, List<MlmProtocol.MaskedSequence> data, int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
        }
        if (data.isEmpty()) {
            throw new IllegalArgumentException("nothing to evaluate");
        }
        long start = System.nanoTime();
        long masked = 0;
        long correct = 0;
        double nll = 0;
        for (int from = 0; from < data.size(); from += batchSize) {
            List<MlmProtocol.MaskedSequence> batch =
                    data.subList(from, Math.min(data.size(), from + batchSize));
            try (NDManager m = manager.newSubManager()) {
                NDList inputs = inputs(m, batch, true);
                NDArray logits = block.forward(new ParameterStore(m, false), inputs, false).head();
                long vocab = logits.getShape().get(logits.getShape().dimension() - 1);
                float[] values = logits.toType(DataType.FLOAT32, false).toFloatArray();
                int row = 0;
                for (MlmProtocol.MaskedSequence s : batch) {
                    for (int label : s.labels()) {
                        Score sc = score(values, (long) row * vocab, (int) vocab, label);
                        nll += sc.nll;
                        if (sc.top == label) {
                            correct++;
                        }
                        masked++;
                        row++;
                    }
                }
            }
        }
        return new Result(data.size(), masked, correct, nll, (System.nanoTime() - start) / 1e9);
    }

    private record Score(double nll, int top) {}

    /** Log-softmax NLL of {@code label} and the argmax (first on ties) of one logit row. */
    private static Score score(float[] v, long offset, int vocab, int label) {
        int base = Math.toIntExact(offset);
        int top = 0;
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < vocab; j++) {
            if (v[base + j] > max) {
                max = v[base + j];
                top = j;
            }
        }
        double sum = 0;
        for (int j = 0; j < vocab; j++) {
            sum += Math.exp(v[base + j] - (double) max);
        }
        double logp = v[base + label] - (double) max - Math.log(sum);
        return new Score(-logp, top);
    }

    /**
     * Builds the model inputs of a batch of equally long masked sequences.
     *
     * @param manager the manager of the arrays
     * @param batch the sequences
     * @param withPositions whether to add the masked positions (logits only there); all sequences
     *     must then have the same number of masked positions
     * @return {@code (tokenIds, typeIds, attentionMask[, maskedPositions])}, {@code INT64}
     */
    public static NDList inputs(
            NDManager manager, List<MlmProtocol.MaskedSequence> batch, boolean withPositions) {
        int b = batch.size();
        int t = batch.get(0).inputIds().length;
        long[] ids = new long[b * t];
        for (int i = 0; i < b; i++) {
            int[] s = batch.get(i).inputIds();
            if (s.length != t) {
                throw new IllegalArgumentException("sequences of a batch must have the same length");
            }
            for (int j = 0; j < t; j++) {
                ids[i * t + j] = s[j];
            }
        }
        long[] ones = new long[b * t];
        Arrays.fill(ones, 1L);
        NDList out =
                new NDList(
                        manager.create(ids, new Shape(b, t)),
                        manager.zeros(new Shape(b, t), DataType.INT64),
                        manager.create(ones, new Shape(b, t)));
        if (withPositions) {
            int p = batch.get(0).positions().length;
            long[] pos = new long[b * p];
            for (int i = 0; i < b; i++) {
                int[] s = batch.get(i).positions();
                if (s.length != p) {
                    throw new IllegalArgumentException("sequences of a batch must have as many masked positions");
                }
                for (int j = 0; j < p; j++) {
                    pos[i * p + j] = s[j];
                }
            }
            out.add(manager.create(pos, new Shape(b, p)));
        }
        return out;
    }

    /**
     * Splits sequences into model-input batches of {@code (tokenIds, typeIds, attentionMask)}, for
     * example as calibration data for a compression.
     *
     * @param manager the manager of the arrays
     * @param data the sequences
     * @param batchSize sequences per batch (the last batch may be smaller)
     * @return the batches
     */
    public static List<NDList> batches(
            NDManager manager, List<MlmProtocol.MaskedSequence> data, int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
        }
        List<NDList> out = new ArrayList<>();
        for (int from = 0; from < data.size(); from += batchSize) {
            out.add(inputs(manager, data.subList(from, Math.min(data.size(), from + batchSize)), false));
        }
        return out;
    }

    /**
     * Returns the {@code k} most likely tokens at the first {@code [MASK]} of a text.
     *
     * @param model a model whose block is a {@link BertMlm}
     * @param tokens the tokenization
     * @param text a text with a literal {@code [MASK]}, for example {@code "the capital of france
     *     is [MASK] ."}
     * @param k how many tokens
     * @return the tokens, most likely first
     */
    public static List<String> fillMask(Model model, BertTokens tokens, String text, int k) {
        int[] ids = tokens.frame(tokens.encode(text));
        int at = -1;
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == tokens.maskId()) {
                at = i;
                break;
            }
        }
        if (at < 0) {
            throw new IllegalArgumentException("no [MASK] in: " + text);
        }
        MlmProtocol.MaskedSequence s =
                new MlmProtocol.MaskedSequence(ids, new int[] {at}, new int[] {tokens.maskId()}, "text");
        try (NDManager m = model.getNDManager().newSubManager()) {
            NDArray logits =
                    model.getBlock()
                            .forward(new ParameterStore(m, false), inputs(m, List.of(s), true), false)
                            .head()
                            .reshape(-1);
            float[] v = logits.toFloatArray();
            Integer[] order = new Integer[v.length];
            for (int i = 0; i < v.length; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (x, y) -> Float.compare(v[y], v[x]));
            List<String> out = new ArrayList<>();
            for (int i = 0; i < Math.min(k, v.length); i++) {
                out.add(tokens.token(order[i]));
            }
            return out;
        }
    }
}
