package ai.djl.jlcm.examples.bert;

import java.io.IOException;

/**
 * The dimensions of a BERT encoder with its masked-LM head.
 *
 * @param vocabSize the WordPiece vocabulary size (rows of the word-embedding table)
 * @param hiddenSize the hidden width
 * @param layers the number of encoder layers
 * @param heads the number of attention heads ({@code hiddenSize} must be a multiple)
 * @param intermediateSize the feed-forward width
 * @param maxPositions the number of position embeddings
 * @param typeVocabSize the number of token types (segments)
 * @param layerNormEpsilon the LayerNorm epsilon
 * @param gelu the GELU form of the feed-forward and MLM-transform activations
 */
public record BertConfig(
        int vocabSize,
        int hiddenSize,
        int layers,
        int heads,
        int intermediateSize,
        int maxPositions,
        int typeVocabSize,
        float layerNormEpsilon,
        Gelu.Form gelu) {

    /** BERT-base uncased (L-12, H-768, A-12) as trained: tanh GELU, LayerNorm epsilon 1e-12. */
    public static final BertConfig BASE =
            new BertConfig(30522, 768, 12, 12, 3072, 512, 2, 1e-12f, Gelu.Form.TANH);

    /** Validates the dimensions. */
    public BertConfig {
        if (vocabSize < 1
                || hiddenSize < 1
                || layers < 1
                || heads < 1
                || intermediateSize < 1
                || maxPositions < 1
                || typeVocabSize < 1) {
            throw new IllegalArgumentException("BERT dimensions must be positive");
        }
        if (hiddenSize % heads != 0) {
            throw new IllegalArgumentException(
                    "hidden size " + hiddenSize + " is not a multiple of the " + heads + " heads");
        }
        if (!(layerNormEpsilon > 0)) {
            throw new IllegalArgumentException("LayerNorm epsilon must be positive");
        }
        if (gelu == null) {
            throw new IllegalArgumentException("GELU form must be set");
        }
    }

    /**
     * Returns the width of one attention head.
     *
     * @return {@code hiddenSize / heads}
     */
    public int headSize() {
        return hiddenSize / heads;
    }

    /**
     * Returns this configuration with another GELU form.
     *
     * @param form the form
     * @return the new configuration
     */
    public BertConfig withGelu(Gelu.Form form) {
        return new BertConfig(
                vocabSize,
                hiddenSize,
                layers,
                heads,
                intermediateSize,
                maxPositions,
                typeVocabSize,
                layerNormEpsilon,
                form);
    }

    /**
     * Reads the dimensions from a checkpoint's tensor shapes (the number of heads is not stored in a
     * checkpoint and must be given). Uses TF-BERT names ({@code bert/embeddings/word_embeddings},
     * {@code bert/encoder/layer_N/...}) under {@code prefix}.
     *
     * @param bundle the checkpoint
     * @param prefix the name prefix, for example {@code module/}
     * @param heads the number of attention heads
     * @return the configuration (tanh GELU, epsilon 1e-12)
     * @throws IOException if a tensor needed to infer a dimension is missing
     */
    public static BertConfig fromBundle(TensorBundle bundle, String prefix, int heads)
            throws IOException {
        long[] word = shape(bundle, prefix + "bert/embeddings/word_embeddings", 2);
        long[] pos = shape(bundle, prefix + "bert/embeddings/position_embeddings", 2);
        long[] type = shape(bundle, prefix + "bert/embeddings/token_type_embeddings", 2);
        int layers = 0;
        while (bundle.contains(
                prefix + "bert/encoder/layer_" + layers + "/attention/self/query/kernel")) {
            layers++;
        }
        if (layers == 0) {
            throw new IOException("No encoder layers (" + prefix + "bert/encoder/layer_0/...) in " + bundle.getIndexFile());
        }
        long[] inter = shape(bundle, prefix + "bert/encoder/layer_0/intermediate/dense/kernel", 2);
        return new BertConfig(
                (int) word[0],
                (int) word[1],
                layers,
                heads,
                (int) inter[1],
                (int) pos[0],
                (int) type[0],
                1e-12f,
                Gelu.Form.TANH);
    }

    private static long[] shape(TensorBundle bundle, String name, int rank) throws IOException {
        if (!bundle.contains(name)) {
            throw new IOException("Missing tensor '" + name + "' in " + bundle.getIndexFile());
        }
        long[] s = bundle.entry(name).shape();
        if (s.length != rank) {
            throw new IOException("Tensor '" + name + "' has rank " + s.length + ", expected " + rank);
        }
        return s;
    }
}
