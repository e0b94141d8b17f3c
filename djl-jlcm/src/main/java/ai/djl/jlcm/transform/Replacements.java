package ai.djl.jlcm.transform;

import ai.djl.jlcm.nn.CodebookConvolution;
import ai.djl.jlcm.nn.CodebookLinear;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;

/**
 * The one place that builds the codebook block replacing a dense layer, and reads a dense layer's
 * weight for compression: used by the transformer, the calibrated compressor and the loader of
 * compressed model directories.
 */
public final class Replacements {

    private Replacements() {}

    /**
     * Builds the codebook block that takes a layer's place: a {@code CodebookLinear} for a {@link
     * Linear}, a {@code CodebookConvolution} with the same settings for a {@link Convolution}. It
     * has a bias where the layer has one, holding the layer's bias array when that is initialized
     * (else the bias is loaded later with the parameters), and the layer's input shape when the
     * layer is initialized.
     *
     * @param layer the dense layer
     * @param weight the compressed weight (possibly empty, to be loaded)
     * @param path the layer's path, for messages
     * @param memoryMode what the block keeps in memory between passes
     * @return the replacement
     * @throws IllegalArgumentException if the layer is neither
     */
    public static Block codebookBlock(Block layer, CodebookWeight weight, String path, MemoryMode memoryMode) {
        boolean hasBias = hasBias(layer);
        Parameter bias = hasBias ? layer.getDirectParameters().get("bias") : null;
        NDArray biasArray = bias != null && bias.isInitialized() ? bias.getArray() : null;
        Shape inputShape = layer.isInitialized() && layer.getInputShapes() != null ? layer.getInputShapes()[0] : null;
        if (layer instanceof Linear) {
            CodebookLinear.Builder b =
                    CodebookLinear.codebookBuilder()
                            .setWeight(weight)
                            .optBias(hasBias)
                            .optInputShape(inputShape)
                            .optLayerName(path)
                            .optMemoryMode(memoryMode);
            if (biasArray != null) {
                b.optBiasArray(biasArray);
            }
            return b.build();
        }
        if (layer instanceof Convolution) {
            CodebookConvolution.Builder b =
                    CodebookConvolution.like((Convolution) layer)
                            .setWeight(weight)
                            .optInputShape(inputShape)
                            .optLayerName(path)
                            .optMemoryMode(memoryMode);
            if (biasArray != null) {
                b.optBiasArray(biasArray);
            }
            return b.build();
        }
        throw new IllegalArgumentException(
                "Layer '" + path + "' is a " + layer.getClass().getSimpleName() + ", not a Linear or Convolution");
    }

    /**
     * Returns whether a layer has a bias parameter.
     *
     * @param layer the layer
     * @return whether it has one
     */
    public static boolean hasBias(Block layer) {
        return layer.getDirectParameters().contains("bias");
    }

    /**
     * Returns a dense layer's weight as a row-major array, checked to be float32 and finite.
     *
     * @param path the layer's path, for messages
     * @param layer the initialized layer
     * @return the weight's values
     * @throws IllegalArgumentException naming the layer otherwise
     */
    public static float[] denseWeight(String path, Block layer) {
        NDArray weight = layer.getDirectParameters().get("weight").getArray();
        if (weight.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException(
                    "Layer '" + path + "': weight is " + weight.getDataType() + ", expected FLOAT32");
        }
        float[] values = weight.toFloatArray();
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new IllegalArgumentException(
                        "Layer '" + path + "': weight holds " + values[i] + " at flat index " + i);
            }
        }
        return values;
    }
}
