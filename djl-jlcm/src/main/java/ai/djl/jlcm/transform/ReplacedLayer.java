package ai.djl.jlcm.transform;

import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;

/**
 * One layer replaced by a codebook block.
 *
 * @param path the layer's path in the block tree
 * @param type the simple class name of the replaced block
 * @param shape the dense weight shape
 * @param bits the index width
 * @param vectorLength the weights per codeword (1: scalar codebooks)
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
        int vectorLength,
        int groups,
        CodebookMode mode,
        long storedBits,
        int places) {

    /**
     * Describes a layer and the codebook block that replaces it.
     *
     * @param path the layer's path
     * @param layer the dense layer
     * @param replacement its codebook block
     * @param places how many parents hold the layer
     * @return the description
     */
    public static ReplacedLayer of(String path, Block layer, Block replacement, int places) {
        CodebookWeight cw = ((CodebookBlock) replacement).getCodebookWeight();
        return new ReplacedLayer(
                path, layer.getClass().getSimpleName(), cw.getShape(), cw.getBits(), cw.getVectorLength(), cw.getGroups(), cw.getMode(), cw.storedBits(), places);
    }

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
