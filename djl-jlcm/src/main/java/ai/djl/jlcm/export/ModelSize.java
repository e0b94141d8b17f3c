package ai.djl.jlcm.export;

import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Sizes of a model as stored, computed from its parameter arrays.
 *
 * @param compressedWeights the weight count of all codebook blocks
 * @param compressedBits the stored bits of all codebook blocks (indices, group ids, codebooks,
 *     scales)
 * @param storedBytes the bytes of every parameter array of the model as stored, compressed or not
 * @param compressedLayers the number of codebook blocks
 * @param parameterCount the parameter count of the dense model: every parameter array's elements,
 *     a codebook block's weight counted as its dense weight
 */
public record ModelSize(
        long compressedWeights, long compressedBits, long storedBytes, int compressedLayers, long parameterCount) {

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
        Map<Parameter, Long> codebookParameters = new IdentityHashMap<>();
        for (Block b : BlockTree.of(root).blocks().values()) {
            if (b instanceof CodebookBlock) {
                CodebookWeight w = ((CodebookBlock) b).getCodebookWeight();
                List<Parameter> stored = w.parameters();
                stored.forEach(p -> codebookParameters.put(p, 0L));
                codebookParameters.put(stored.get(0), w.getShape().size());
            }
        }
        long bytes = 0;
        long parameters = 0;
        for (Pair<String, Parameter> p : root.getParameters()) {
            NDArray a = p.getValue().getArray();
            bytes += a.size() * a.getDataType().getNumOfBytes();
            parameters += codebookParameters.getOrDefault(p.getValue(), a.size());
        }
        return new ModelSize(weights, bits, bytes, layers, parameters);
    }

    /**
     * Returns the whole model's stored bits per parameter of the dense model: every parameter array
     * as stored (codebook layers with all their overhead, biases, norms, layers left in float) over
     * {@link #parameterCount()}. A float32 model has 32.
     *
     * @return bits per parameter, or 0 for a model without parameters
     */
    public double modelBitsPerWeight() {
        return parameterCount == 0 ? 0 : 8.0 * storedBytes / parameterCount;
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
