package ai.djl.jlcm.examples.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.nn.transformer.BertMaskedLanguageModelBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * The masked-LM head (TF: {@code cls/predictions}): {@code transform} ({@link Linear} H to H), {@code
 * gelu}, {@code LayerNorm}, then the decoder tied to the word embeddings plus the separate parameter
 * {@code output_bias}.
 *
 * <p>The decoder is not a child of this block: it is the {@code word_embeddings} {@link Linear} of
 * the {@link BertEmbeddings} given at construction, called through its forward ({@code x E^T}), and
 * looked up anew on every pass so that a block put in its place is used.
 *
 * <p>Inputs: the encoder output {@code (B, T, H)} and optionally masked positions {@code (B, I)}
 * (integers); output: logits {@code (B, T, V)}, or {@code (B, I, V)} at the given positions.
 */
public final class BertMlmHead extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int hidden;
    private final BertEmbeddings embeddings;
    private Linear transform;
    private Block gelu;
    private Block layerNorm;
    private Parameter outputBias;

    /**
     * Creates the head.
     *
     * @param config the BERT dimensions
     * @param embeddings the embeddings whose word table is the decoder
     */
    public BertMlmHead(BertConfig config, BertEmbeddings embeddings) {
        super(VERSION);
        hidden = config.hiddenSize();
        this.embeddings = embeddings;
        transform = BertSelfAttention.dense(hidden);
        children.add("transform", transform);
        gelu = new Gelu(config.gelu());
        children.add("gelu", gelu);
        layerNorm = BertLayer.layerNorm(config);
        children.add("LayerNorm", layerNorm);
        outputBias =
                addParameter(
                        Parameter.builder()
                                .setName("output_bias")
                                .setType(Parameter.Type.BIAS)
                                .optShape(new Shape(config.vocabSize()))
                                .build());
    }

    /**
     * Returns the output bias parameter.
     *
     * @return {@code output_bias}, shape {@code (V)}
     */
    public Parameter getOutputBias() {
        return outputBias;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        if (inputs.size() > 1) {
            NDArray positions = inputs.get(1).toType(DataType.INT64, false);
            long b = positions.getShape().get(0);
            long i = positions.getShape().get(1);
            x = BertMaskedLanguageModelBlock.gatherFromIndices(x, positions).reshape(b, i, hidden);
        }
        NDArray h = transform.forward(ps, new NDList(x), training).head();
        h = gelu.forward(ps, new NDList(h), training).head();
        h = layerNorm.forward(ps, new NDList(h), training).head();
        NDArray logits = embeddings.getWordEmbeddings().forward(ps, new NDList(h), training).head();
        NDArray bias = ps.getValue(outputBias, logits.getDevice(), training);
        return new NDList(logits.add(bias));
    }

    /** {@inheritDoc} */
    @Override
    public void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape x = inputShapes[0];
        Shape at = inputShapes.length > 1 ? new Shape(x.get(0), inputShapes[1].get(1), hidden) : x;
        transform.initialize(manager, dataType, new Shape(-1, hidden));
        gelu.initialize(manager, dataType, at);
        layerNorm.initialize(manager, dataType, at);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape x = inputShapes[0];
        long vocab = outputBias.getShape().get(0);
        if (inputShapes.length > 1) {
            return new Shape[] {new Shape(x.get(0), inputShapes[1].get(1), vocab)};
        }
        return new Shape[] {new Shape(x.get(0), x.get(1), vocab)};
    }
}
