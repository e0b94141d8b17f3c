package ai.djl.jlcm.learn;

import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.ndarray.types.Shape;

/**
 * What calibrated compression did to one layer.
 *
 * @param path the layer's path in the block tree
 * @param type the replaced block's simple class name
 * @param shape the dense weight shape
 * @param bits the index width
 * @param vectorLength the weights per codeword (1: scalar codebooks)
 * @param groups the neuron groups formed
 * @param mode the codebook mode
 * @param storedBits the stored bits of the compressed weight, overhead included
 * @param initError relative reconstruction error after grouping and weighted k-means
 * @param learnedError relative reconstruction error after learning
 * @param codewordUsage the fraction of codewords in use
 * @param bestStep the learning step whose state was kept (0: the initialization)
 * @param seconds the time spent on this layer, capture included
 */
public record LayerReport(
        String path,
        String type,
        Shape shape,
        int bits,
        int vectorLength,
        int groups,
        CodebookMode mode,
        long storedBits,
        double initError,
        double learnedError,
        double codewordUsage,
        int bestStep,
        double seconds) {

    /**
     * Returns the stored bits per weight, overhead included.
     *
     * @return bits per weight
     */
    public double bitsPerWeight() {
        return (double) storedBits / shape.size();
    }
}
