package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;

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
     * Returns the relative reconstruction error {@code ‖Ŷ − Y‖² / ‖Y‖²} of a weight.
     *
     * @param weight the dense weight
     * @return the error
     */
    double error(NDArray weight);

    /**
     * Returns the importance of each weight element: the mean squared input it multiplies.
     *
     * @return one value per weight element, row-major
     */
    float[] importance();

    /** {@inheritDoc} */
    @Override
    void close();
}
