package ai.djl.jlcm.examples.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * Root-mean-square normalization over the last axis, {@code x / sqrt(mean(x²) + eps) · weight}
 * (Llama's {@code LlamaRMSNorm}). Parameter {@code weight} {@code (H)}.
 */
public final class RmsNorm extends AbstractBlock {

    private static final byte VERSION = 1;

    private final float eps;
    private final Parameter weight;

    /**
     * Creates the block.
     *
     * @param size the normalized width {@code H}
     * @param eps the epsilon under the root
     */
    public RmsNorm(int size, float eps) {
        super(VERSION);
        this.eps = eps;
        weight = addParameter(
                Parameter.builder().setName("weight").setType(Parameter.Type.GAMMA).optShape(new Shape(size)).build());
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        NDArray w = ps.getValue(weight, x.getDevice(), training);
        NDArray rms = x.square().mean(new int[] {-1}, true).add(eps).sqrt();
        return new NDList(x.div(rms).mul(w));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
