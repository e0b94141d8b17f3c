package ai.djl.jlcm.examples.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * One post-LayerNorm BERT encoder layer: {@code h1 = LN(x + attention(x))}, {@code h2 = LN(h1 +
 * output(gelu(intermediate(h1))))}.
 *
 * <p>Children: {@code attention} ({@link BertSelfAttention}), {@code attention_norm} ({@link
 * LayerNorm}), {@code intermediate} ({@link Linear}, H to I), {@code gelu} ({@link Gelu}), {@code
 * output} ({@link Linear}, I to H), {@code output_norm} ({@link LayerNorm}). Inputs: hidden states
 * {@code (B, T, H)} and the additive attention bias; output: {@code (B, T, H)}.
 */
public final class BertLayer extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int hidden;
    private final int intermediateSize;
    // non-Linear children are typed Block so that any stand-in can take their place
    private Block attention;
    private Block attentionNorm;
    private Linear intermediate;
    private Block gelu;
    private Linear output;
    private Block outputNorm;

    /**
     * Creates an encoder layer.
     *
     * @param config the BERT dimensions
     */
    public BertLayer(BertConfig config) {
        super(VERSION);
        hidden = config.hiddenSize();
        intermediateSize = config.intermediateSize();
        attention = child("attention", new BertSelfAttention(config));
        attentionNorm = child("attention_norm", layerNorm(config));
        intermediate = child("intermediate", BertSelfAttention.dense(intermediateSize));
        gelu = child("gelu", new Gelu(config.gelu()));
        output = child("output", BertSelfAttention.dense(hidden));
        outputNorm = child("output_norm", layerNorm(config));
    }

    static LayerNorm layerNorm(BertConfig config) {
        return LayerNorm.builder().axis(2).optEpsilon(config.layerNormEpsilon()).build();
    }

    private <B extends Block> B child(String name, B block) {
        children.add(name, block);
        return block;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        NDArray attended = attention.forward(ps, new NDList(x, inputs.get(1)), training).head();
        NDArray h1 = attentionNorm.forward(ps, new NDList(attended.add(x)), training).head();
        NDArray a = intermediate.forward(ps, new NDList(h1), training).head();
        a = gelu.forward(ps, new NDList(a), training).head();
        NDArray o = output.forward(ps, new NDList(a), training).head();
        return outputNorm.forward(ps, new NDList(o.add(h1)), training);
    }

    /** {@inheritDoc} */
    @Override
    public void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape x = inputShapes[0];
        Shape mid = new Shape(x.get(0), x.get(1), intermediateSize);
        attention.initialize(manager, dataType, x, inputShapes[1]);
        attentionNorm.initialize(manager, dataType, x);
        intermediate.initialize(manager, dataType, new Shape(-1, hidden));
        gelu.initialize(manager, dataType, mid);
        output.initialize(manager, dataType, new Shape(-1, intermediateSize));
        outputNorm.initialize(manager, dataType, x);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
