package ai.djl.jlcm.examples.llm;

import ai.djl.jlcm.nn.Scalars;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.BlockList;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * Causal self-attention with rotary position embeddings and grouped-query attention (Llama's {@code
 * LlamaAttention}): {@code heads} query heads share {@code kvHeads} key/value heads.
 *
 * <p>Children, all {@link Linear} without bias: {@code q_proj} (H to H), {@code k_proj} and {@code
 * v_proj} (H to kvHeads·d), {@code o_proj} (H to H). Inputs: hidden states {@code (B, T, H)}, the
 * rotary {@code cos} and {@code sin} tables {@code (T, d)} of the pass's positions and the additive
 * causal mask {@code (T, S)}; with a {@link KvCache} in the parameters the keys and values of
 * earlier positions are taken from it and this pass's appended. Output {@code (B, T, H)}.
 */
public final class LlamaAttention extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int layer;
    private final int hidden;
    private final int heads;
    private final int kvHeads;
    private final int headSize;
    private Linear qProj;
    private Linear kProj;
    private Linear vProj;
    private Linear oProj;

    /**
     * Creates the block.
     *
     * @param config the dimensions
     * @param layer the index of its decoder layer (its slot in a {@link KvCache})
     */
    public LlamaAttention(LlamaConfig config, int layer) {
        super(VERSION);
        this.layer = layer;
        hidden = config.hiddenSize();
        heads = config.heads();
        kvHeads = config.kvHeads();
        headSize = config.headSize();
        qProj = child(children, "q_proj", dense(hidden));
        kProj = child(children, "k_proj", dense(kvHeads * headSize));
        vProj = child(children, "v_proj", dense(kvHeads * headSize));
        oProj = child(children, "o_proj", dense(hidden));
    }

    /** Adds a child under its key as given (DJL's {@code addChildBlock} prefixes a number). */
    static <B extends Block> B child(BlockList children, String key, B block) {
        children.add(key, block);
        return block;
    }

    static Linear dense(int units) {
        return Linear.builder().setUnits(units).optBias(false).build();
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        NDArray cos = inputs.get(1);
        NDArray sin = inputs.get(2);
        NDArray mask = inputs.get(3);
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        NDArray q = rotate(split(qProj.forward(ps, new NDList(x), training).head(), heads, b, t), cos, sin);
        NDArray k = rotate(split(kProj.forward(ps, new NDList(x), training).head(), kvHeads, b, t), cos, sin);
        NDArray v = split(vProj.forward(ps, new NDList(x), training).head(), kvHeads, b, t);
        Object cache = params == null ? null : params.get(KvCache.PARAMETER);
        if (cache != null) {
            NDArray[] kv = ((KvCache) cache).append(layer, k, v);
            k = kv[0];
            v = kv[1];
        }
        k = repeatKv(k);
        v = repeatKv(v);
        NDArray scores = Scalars.mul(q.matMul(k.transpose(0, 1, 3, 2)), 1f / (float) Math.sqrt(headSize)).add(mask);
        NDArray context = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(b, t, hidden);
        return oProj.forward(ps, new NDList(context), training);
    }

    private NDArray split(NDArray projected, int n, long b, long t) {
        return projected.reshape(b, t, n, headSize).transpose(0, 2, 1, 3);
    }

    /** Rotary embedding in the Hugging Face convention: {@code x·cos + rotate_half(x)·sin}. */
    private NDArray rotate(NDArray x, NDArray cos, NDArray sin) {
        int half = headSize / 2;
        NDArray rotated = NDArrays.concat(
                new NDList(x.get("..., " + half + ":").neg(), x.get("..., :" + half)), -1);
        return x.mul(cos).add(rotated.mul(sin));
    }

    /** Each key/value head serves {@code heads / kvHeads} query heads. */
    private NDArray repeatKv(NDArray kv) {
        int groups = heads / kvHeads;
        if (groups == 1) {
            return kv;
        }
        Shape s = kv.getShape();
        return kv.expandDims(2)
                .broadcast(new Shape(s.get(0), kvHeads, groups, s.get(2), headSize))
                .reshape(s.get(0), heads, s.get(2), headSize);
    }

    /** {@inheritDoc} */
    @Override
    public void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape in = new Shape(-1, hidden);
        qProj.initialize(manager, dataType, in);
        kProj.initialize(manager, dataType, in);
        vProj.initialize(manager, dataType, in);
        oProj.initialize(manager, dataType, in);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
