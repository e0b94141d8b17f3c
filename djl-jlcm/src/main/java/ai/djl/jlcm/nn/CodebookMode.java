package ai.djl.jlcm.nn;

/** How the neuron groups of a layer share codewords. */
public enum CodebookMode {
    /** One codebook for the layer and one scale per group: {@code w = s[g] · c[i]}. */
    SCALED,
    /** One codebook per group: {@code w = c[g][i]}. */
    MULTI
}
