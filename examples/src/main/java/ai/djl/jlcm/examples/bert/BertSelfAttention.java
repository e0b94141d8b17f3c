package ai.djl.jlcm.examples.bert;

import ai.djl.jlcm.nn.Scalars;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * BERT's multi-head self-attention with its output projection (TF: {@code attention/self} and
 * {@code attention/output/dense}), without dropout, residual or LayerNorm.
 *
 * <p>Children, all {@link Linear} of width {@code hidden}: {@code query}, {@code key}, {@code
 * value}, {@code output}. Inputs: the hidden states {@code (B, T, H)} and an additive attention
 * bias broadcastable to {@code (B, heads, T, T)} (0 for visible keys, -10000 for padding). Output:
 * {@code (B, T, H)}.
 */
public final class BertSelfAttention extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int hidden;
    private final int heads;
    private Linear query;
    private Linear key;
    private Linear value;
    private Linear output;

    /**
     * Creates the attention block.
     *
     * @param config the BERT dimensions
     */
    public BertSelfAttention(BertConfig config) {
        super(VERSION);
        hidden = config.hiddenSize();
        heads = config.heads();
        query = child("query", dense(hidden));
        key = child("key", dense(hidden));
        value = child("value", dense(hidden));
        output = child("output", dense(hidden));
    }

    static Linear dense(int units) {
        return Linear.builder().setUnits(units).optBias(true).build();
    }

    private <B extends ai.djl.nn.Block> B child(String name, B block) {
        children.add(name, block);
        return block;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        NDArray bias = inputs.get(1);
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        long d = hidden / heads;
        NDArray q = heads(query.forward(ps, new NDList(x), training).head(), b, t, d);
        NDArray k = heads(key.forward(ps, new NDList(x), training).head(), b, t, d);
        NDArray v = heads(value.forward(ps, new NDList(x), training).head(), b, t, d);
        NDArray scores = Scalars.mul(q.matMul(k.transpose(0, 1, 3, 2)), 1f / (float) Math.sqrt(d)).add(bias);
        NDArray context = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(b, t, hidden);
        return output.forward(ps, new NDList(context), training);
    }

    private NDArray heads(NDArray projected, long b, long t, long d) {
        return projected.reshape(b, t, heads, d).transpose(0, 2, 1, 3);
    }

    /** {@inheritDoc} */
    @Override
    public void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape in = new Shape(-1, hidden);
        query.initialize(manager, dataType, in);
        key.initialize(manager, dataType, in);
        value.initialize(manager, dataType, in);
        output.initialize(manager, dataType, in);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
