package ai.djl.jlcm.learn;

import ai.djl.jlcm.nn.CompressedWeight;

/**
 * The outcome of compressing one layer on calibration data.
 *
 * @param weight the compressed weight
 * @param initError relative reconstruction error after grouping and k-means initialization
 * @param learnedError relative reconstruction error after learning (the best state seen)
 * @param codewordUsage the fraction of codewords that some weight maps to
 * @param bestStep the step whose state was kept (0: the initialization)
 */
public record LayerResult(
        CompressedWeight weight,
        double initError,
        double learnedError,
        double codewordUsage,
        int bestStep) {}
