package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * A layer's reconstruction objective on calibration data: the error of its output with a candidate
 * weight, on inputs from the partly compressed network, against the float network's output.
 */
interface ReconstructionLoss extends AutoCloseable {

    /**
     * Returns the differentiable training loss of a candidate weight (a scalar), or a surrogate
     * scalar with the same gradient with respect to the weight.
     *
     * @param weight the candidate dense weight
     * @return the loss
     */
    NDArray loss(NDArray weight);

    /**
     * Returns whether the training loss is a sum over the weight's rows (output neurons), so that it
     * can be computed a chunk of rows at a time with {@link #lossOfRows(NDArray, long)} and {@link
     * #errorOfRows(NDArray, long)}.
     *
     * @return whether the row-wise methods are supported
     */
    default boolean separableByRows() {
        return false;
    }

    /**
     * Returns the part of the training loss (or surrogate) that rows {@code [from, from + r)} of the
     * weight contribute; the parts of all rows add up to {@link #loss(NDArray)}.
     *
     * @param rows the candidate rows {@code [r, cols]}
     * @param from the first row's index
     * @return the loss of those rows
     */
    default NDArray lossOfRows(NDArray rows, long from) {
        throw new UnsupportedOperationException("this loss is not separable by rows");
    }

    /**
     * Returns what rows {@code [from, from + r)} of a weight add to its {@link #error(NDArray)}: over
     * the rows of a partition, {@code error(w) = 1 + Σ parts}.
     *
     * @param rows the rows {@code [r, cols]}
     * @param from the first row's index
     * @return the rows' part of the error
     */
    default double errorOfRows(NDArray rows, long from) {
        throw new UnsupportedOperationException("this loss is not separable by rows");
    }

    /**
     * Returns the relative reconstruction error {@code ‖Ŷ − Y‖² / ‖Y‖²} of a weight.
     *
     * @param weight the dense weight
     * @return the error
     */
    double error(NDArray weight);

    /**
     * Returns the Gram matrices {@code X̃ᵀX̃ / n} of the layer's compressed-stream inputs, the
     * Hessian GPTQ rounds with: one for a linear layer; one per channel group for a convolution,
     * over its unfolded input patches.
     *
     * @return row-major square matrices, one per block of output rows
     */
    double[][] inputGrams();

    /**
     * Returns the importance of each weight element: the mean squared input it multiplies.
     *
     * @return one value per weight element, row-major
     */
    float[] importance();

    /**
     * Returns the training loss's curvature along each weight, {@code κ = ½ ∂²L/∂w²}: moving one
     * weight alone by {@code δ} changes the loss by {@code g·δ + κ·δ²}.
     *
     * @param manager the manager of the result
     * @return κ, broadcastable to the weight as a {@code [rows, cols]} matrix
     */
    NDArray curvature(NDManager manager);

    /**
     * Returns the coupling of the training loss's weights within a row, when every row shares it:
     * {@code C} with {@code ½ ∂²L/∂ŵ[r,n]∂ŵ[r,m] = C[n,m]} and no coupling between rows, so that a
     * move of {@code ŵ[r,n]} by {@code δ} changes the row's gradient by exactly {@code 2·δ·C[n,:]}.
     *
     * @param manager the manager of the result
     * @return {@code C}, {@code [cols, cols]}, or null when the loss has no such form
     */
    default NDArray coupling(NDManager manager) {
        return null;
    }

    /** {@inheritDoc} */
    @Override
    void close();
}
