package ai.djl.jlcm.learn;

/** How the weight-to-codeword mappings learn. */
public enum MappingUpdate {
    /**
     * JLCM's proximal update: a mapping only ever moves to an adjacent codeword, and moves sooner
     * the closer that neighbour is (the latent's step is scaled by {@code φ(Δ/Δ̄) = exp(-Δ/Δ̄)}).
     */
    PROXIMAL,
    /** Straight-through: the latent moves with the gradient of the decoded weight. */
    STE,
    /** DKM-like soft assignment: the weight is a softmax-weighted mix of the codewords. */
    SOFT,
    /** Mappings stay at their k-means assignment; only codebooks and scales learn. */
    FROZEN
}
