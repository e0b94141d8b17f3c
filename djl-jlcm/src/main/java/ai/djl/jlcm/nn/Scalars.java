package ai.djl.jlcm.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Products and quotients with a constant that stay right under autograd.
 *
 * <p>DJL 0.36's PyTorch engine turns the number of {@code mul(Number)}, {@code div(Number)}, {@code
 * pow(Number)}, {@code maximum(Number)} and {@code minimum(Number)} into a tensor over a Java direct
 * buffer ({@code torch::from_blob}) and closes it right after the op. Autograd keeps that tensor
 * for the backward pass, and reads freed memory once the garbage collector has released the buffer:
 * the gradient is wrong or NaN, depending on when the collector ran (README, "the scalar-gradient
 * defect"). These methods make the constant with the engine's own memory, which autograd keeps
 * alive. Use them wherever gradients flow; the engine's own methods are fine elsewhere.
 */
public final class Scalars {

    private Scalars() {}

    /**
     * Returns a FLOAT32 scalar held in engine memory, owned by {@code like}'s manager.
     *
     * @param like the array whose manager and device the scalar takes
     * @param value the value
     * @return a 0-dimensional array
     */
    public static NDArray of(NDArray like, float value) {
        return like.getManager().full(new Shape(), value, DataType.FLOAT32);
    }

    /**
     * Returns {@code x · value}, differentiable in {@code x}.
     *
     * @param x the array
     * @param value the constant
     * @return a new array
     */
    public static NDArray mul(NDArray x, float value) {
        return x.mul(of(x, value));
    }

    /**
     * Returns {@code x / value}, differentiable in {@code x}.
     *
     * @param x the array
     * @param value the constant
     * @return a new array
     */
    public static NDArray div(NDArray x, float value) {
        return x.div(of(x, value));
    }
}
