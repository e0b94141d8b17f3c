package ai.djl.jlcm.examples.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * The SwiGLU feed-forward block, {@code down_proj(silu(gate_proj(x)) · up_proj(x))}. Children, all
 * {@link Linear} without bias: {@code gate_proj} and {@code up_proj} (H to I), {@code down_proj} (I
 * to H). Input and output {@code (B, T, H)}.
 */
public final class LlamaMlp extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int hidden;
    private final int intermediate;
    private Linear gateProj;
    private Linear upProj;
    private Linear downProj;

    /**
     * Creates the block.
     *
     * @param config the dimensions
     */
    public LlamaMlp(LlamaConfig config) {
        super(VERSION);
        hidden = config.hiddenSize();
        intermediate = config.intermediateSize();
        gateProj = LlamaAttention.child(children, "gate_proj", LlamaAttention.dense(intermediate));
        upProj = LlamaAttention.child(children, "up_proj", LlamaAttention.dense(intermediate));
        downProj = LlamaAttention.child(children, "down_proj", LlamaAttention.dense(hidden));
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray gate = gateProj.forward(ps, inputs, training).head();
        NDArray up = upProj.forward(ps, inputs, training).head();
        NDArray a = gate.mul(Activation.sigmoid(gate)).mul(up);
        return downProj.forward(ps, new NDList(a), training);
    }

    /** {@inheritDoc} */
    @Override
    public void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        gateProj.initialize(manager, dataType, new Shape(-1, hidden));
        upProj.initialize(manager, dataType, new Shape(-1, hidden));
        downProj.initialize(manager, dataType, new Shape(-1, intermediate));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
