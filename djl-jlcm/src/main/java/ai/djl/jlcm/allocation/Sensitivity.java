package ai.djl.jlcm.allocation;

/** How {@link BitAllocation} predicts what a layer's quantization at a width costs the model. */
public enum Sensitivity {
    /**
     * Data-free: the layer's relative quantization error {@code ‖W − Ŵ_b‖² / ‖W‖²}. Every layer
     * weighs alike, whatever its size or its effect on the output.
     */
    WEIGHT_ERROR,
    /**
     * Calibrated: the quantization error weighted by the diagonal Fisher information of each weight,
     * {@code Σ F_i (W_i − Ŵ_b,i)²}, about twice the expected KL divergence of the model's predictions
     * from the float model's ({@link FisherInformation}). Needs calibration inputs and a model whose
     * first output holds logits over its last axis.
     */
    FISHER
}
