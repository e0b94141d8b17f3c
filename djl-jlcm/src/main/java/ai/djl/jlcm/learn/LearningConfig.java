package ai.djl.jlcm.learn;

import ai.djl.jlcm.nn.CodebookMode;

/**
 * Settings of the joint learning of one layer.
 *
 * @param bits index width, 1 to 8
 * @param groups neuron groups (capped at the layer's neuron count)
 * @param mode codebook mode
 * @param mapping how mappings learn
 * @param steps optimization steps (0: k-means initialization only)
 * @param codebookRate codebook learning rate, relative to the codebook's RMS
 * @param scaleRate scale learning rate, relative to the mean scale
 * @param latentRate latent learning rate, in mean codeword spacings per step
 * @param edgePhi the proximal factor for a move outward from an edge codeword (1: the latent may
 *     drift outward while the mapping stays; 0: no outward move)
 * @param phiOnStep whether PROXIMAL weights the latent's Adam step by φ (true) or its gradient,
 *     before Adam (false, the literal form, which Adam's normalization largely undoes)
 * @param softTemperature SOFT's temperature, in mean codeword spacings
 * @param dampening Gram dampening λ of the linear loss
 * @param seed seed of the neuron grouping
 */
public record LearningConfig(
        int bits,
        int groups,
        CodebookMode mode,
        MappingUpdate mapping,
        int steps,
        float codebookRate,
        float scaleRate,
        float latentRate,
        float edgePhi,
        boolean phiOnStep,
        float softTemperature,
        float dampening,
        long seed) {}
