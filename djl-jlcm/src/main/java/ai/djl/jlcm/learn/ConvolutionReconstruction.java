package ai.djl.jlcm.learn;

import ai.djl.jlcm.nn.Scalars;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Convolution;

import java.util.List;

/**
 * The reconstruction loss of a convolution, computed directly: {@code ‖conv(X̃, Ŵ) + b − Y‖² / ‖Y‖²}
 * with {@code Y = conv(X, W) + b} on float-network inputs X.
 */
final class ConvolutionReconstruction implements ReconstructionLoss {

    /** Samples unfolded at a time for the Gram matrices. */
    private static final long GRAM_CHUNK = 32;

    private final NDManager manager;
    private final Convolution layer;
    private final NDArray inputs;
    private final NDArray bias;
    private final NDArray target;
    private final float reference;
    private final float[] importance;

    ConvolutionReconstruction(
            NDManager parent,
            Convolution layer,
            NDArray weight,
            NDArray bias,
            List<NDArray> compressedInputs,
            List<NDArray> floatInputs) {
        manager = parent.newSubManager();
        this.layer = layer;
        inputs = batch(compressedInputs);
        NDArray x = batch(floatInputs);
        this.bias = bias;
        target = conv(x, weight);
        reference = target.square().sum().getFloat();
        x.close();
        importance = Importance.convolution(compressedInputs, layer, weight.getShape());
    }

    private NDArray batch(List<NDArray> batches) {
        NDArray all = batches.size() == 1 ? batches.get(0).duplicate() : NDArrays.concat(new NDList(batches));
        all.attach(manager);
        return all;
    }

    private NDArray conv(NDArray x, NDArray w) {
        return x.getNDArrayInternal()
                .convolution(x, w, bias, layer.getStride(), layer.getPadding(), layer.getDilation(), layer.getGroups())
                .singletonOrThrow();
    }

    @Override
    public NDArray loss(NDArray w) {
        return Scalars.div(conv(inputs, w).sub(target).square().sum(), reference);
    }

    @Override
    public double error(NDArray w) {
        try (NDArray l = loss(w)) {
            return l.getFloat();
        }
    }

    /**
     * Returns the Gram matrices of the unfolded compressed-stream inputs, one per channel group
     * ({@link ConvolutionPatches#grams}).
     *
     * @return one row-major {@code [C/groups·K]²} matrix per channel group
     */
    @Override
    public double[][] inputGrams() {
        return ConvolutionPatches.grams(inputs, layer, GRAM_CHUNK);
    }

    @Override
    public float[] importance() {
        return importance;
    }

    /**
     * {@inheritDoc} A weight's square input summed over the output positions it is applied at,
     * divided by the reference: its importance times the positions per filter (padding, where a
     * weight multiplies zeros, is not discounted).
     */
    @Override
    public NDArray curvature(NDManager m) {
        long filters = target.getShape().get(1);
        float positions = target.size() / (float) filters;
        long cols = importance.length / filters;
        return m.create(importance, new Shape(filters, cols)).mul(positions / reference);
    }

    @Override
    public void close() {
        manager.close();
    }
}
