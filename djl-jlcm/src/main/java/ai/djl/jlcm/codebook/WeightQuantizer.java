package ai.djl.jlcm.codebook;

import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.ndarray.types.Shape;

/** Turns a dense weight into grouped-codebook form. */
public interface WeightQuantizer {

    /**
     * Quantizes a weight.
     *
     * @param weight the dense weight, row-major, finite
     * @param shape its shape; dimension 0 counts the neurons
     * @param bits the index width, 1 to 8
     * @return the compressed weight
     */
    CompressedWeight quantize(float[] weight, Shape shape, int bits);

    /**
     * Returns a short name of the method, for reports.
     *
     * @return the name
     */
    String name();
}
