package ai.djl.jlcm.examples.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * One pre-norm decoder layer: {@code h = x + self_attn(input_layernorm(x))}, {@code out = h +
 * mlp(post_attention_layernorm(h))}.
 *
 * <p>Children: {@code input_layernorm} ({@link RmsNorm}), {@code self_attn} ({@link
 * LlamaAttention}), {@code post_attention_layernorm} ({@link RmsNorm}), {@code mlp} ({@link
 * LlamaMlp}). Inputs: hidden states {@code (B, T, H)}, rotary {@code cos} and {@code sin}, causal
 * mask (see {@link LlamaAttention}); output: the new hidden states, the other inputs passed on.
 */
public final class LlamaLayer extends AbstractBlock {

    private static final byte VERSION = 1;

    // typed Block so that any stand-in can take their place
    private Block inputNorm;
    private Block selfAttn;
    private Block postNorm;
    private Block mlp;

    /**
     * Creates a decoder layer.
     *
     * @param config the dimensions
     * @param index the layer's index (its slot in a {@link KvCache})
     */
    public LlamaLayer(LlamaConfig config, int index) {
        super(VERSION);
        inputNorm = LlamaAttention.child(children, "input_layernorm", new RmsNorm(config.hiddenSize(), config.rmsNormEps()));
        selfAttn = LlamaAttention.child(children, "self_attn", new LlamaAttention(config, index));
        postNorm = LlamaAttention.child(children, "post_attention_layernorm", new RmsNorm(config.hiddenSize(), config.rmsNormEps()));
        mlp = LlamaAttention.child(children, "mlp", new LlamaMlp(config));
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        NDArray normed = inputNorm.forward(ps, new NDList(x), training).head();
        NDList attnIn = new NDList(normed);
        attnIn.addAll(inputs.subNDList(1));
        NDArray h = x.add(selfAttn.forward(ps, attnIn, training, params).head());
        NDArray m = mlp.forward(ps, postNorm.forward(ps, new NDList(h), training), training).head();
        NDList out = new NDList(h.add(m));
        out.addAll(inputs.subNDList(1));
        return out;
    }

    /** {@inheritDoc} */
    @Override
    public void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape x = inputShapes[0];
        inputNorm.initialize(manager, dataType, x);
        selfAttn.initialize(manager, dataType, inputShapes);
        postNorm.initialize(manager, dataType, x);
        mlp.initialize(manager, dataType, x);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inputShapes.clone();
    }
}
