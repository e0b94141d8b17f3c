package ai.djl.jlcm.transform;

import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.ndarray.types.Shape;

/**
 * One layer replaced by a codebook block.
 *
 * @param path the layer's path in the block tree
 * @param type the simple class name of the replaced block
 * @param shape the dense weight shape
 * @param bits the index width
 * @param groups the number of neuron groups
 * @param mode the codebook mode
 * @param storedBits the bits the compressed weight occupies (indices, group ids, codebooks, scales)
 * @param places how many parents held the block (more than one for a shared block)
 */
public record ReplacedLayer(
        String path,
        String type,
        Shape shape,
        int bits,
        int groups,
        CodebookMode mode,
        long storedBits,
        int places) {

    /**
     * Returns the number of weights.
     *
     * @return the weight count
     */
    public long weights() {
        return shape.size();
    }

    /**
     * Returns the stored bits per weight, overhead included.
     *
     * @return bits per weight
     */
    public double bitsPerWeight() {
        return (double) storedBits / shape.size();
    }
}
