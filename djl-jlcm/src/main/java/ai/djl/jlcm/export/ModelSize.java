package ai.djl.jlcm.export;

import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;

/**
 * Sizes of a model as stored, computed from its parameter arrays.
 *
 * @param compressedWeights the weight count of all codebook blocks
 * @param compressedBits the stored bits of all codebook blocks (indices, group ids, codebooks,
 *     scales)
 * @param storedBytes the bytes of every parameter array of the model as stored, compressed or not
 * @param compressedLayers the number of codebook blocks
 */
public record ModelSize(
        long compressedWeights, long compressedBits, long storedBytes, int compressedLayers) {

    /**
     * Measures a block tree.
     *
     * @param root the root block
     * @return its sizes
     */
    public static ModelSize of(Block root) {
        long weights = 0;
        long bits = 0;
        int layers = 0;
        for (Block b : BlockTree.of(root).blocks().values()) {
            if (b instanceof CodebookBlock) {
                CodebookBlock cb = (CodebookBlock) b;
                weights += cb.getCodebookWeight().getShape().size();
                bits += cb.getCodebookWeight().storedBits();
                layers++;
            }
        }
        long bytes = 0;
        for (Pair<String, Parameter> p : root.getParameters()) {
            NDArray a = p.getValue().getArray();
            bytes += a.size() * a.getDataType().getNumOfBytes();
        }
        return new ModelSize(weights, bits, bytes, layers);
    }

    /**
     * Returns stored bits per compressed weight, overhead included.
     *
     * @return bits per weight, or 0 when nothing is compressed
     */
    public double bitsPerWeight() {
        return compressedWeights == 0 ? 0 : (double) compressedBits / compressedWeights;
    }
}
