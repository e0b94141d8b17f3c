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
    FROZEN,
    /**
     * Neighbour scoring (JLCM.md's second form): no latents; each step scores, for every weight, the
     * moves to its two neighbouring codewords by the loss change they predict, {@code g·δ + κ·δ²}
     * ({@code g} the loss's gradient at the weight, {@code δ} the move, {@code κ} the loss's
     * curvature along the weight), and each row takes its best move if that lowers the loss ({@link
     * NeighbourStep}; several, one after the other, with {@code LayerSettings.optNeighbourMoves}).
     * The {@code δ²} term is the proximal weight: a far neighbour must be favoured by a larger
     * gradient. Needs a layer's own reconstruction loss (not a reconstruction unit).
     */
    NEIGHBOURS
}
