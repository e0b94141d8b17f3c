package ai.djl.jlcm.codebook;

import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.ndarray.types.Shape;

/** Turns a dense weight into grouped-codebook form, data-free. */
public interface WeightQuantizer {

    /**
     * Quantizes a weight.
     *
     * @param weight the dense weight, row-major, finite
     * @param shape its shape; dimension 0 counts the neurons
     * @param settings the layer's complete settings (bits, and for k-means groups and mode)
     * @return the compressed weight
     */
    CompressedWeight quantize(float[] weight, Shape shape, LayerSettings settings);

    /**
     * Returns a short name of the method, for reports.
     *
     * @return the name
     */
    String name();

    /**
     * Returns the quantizer of a method: RTN's or k-means' for the data-free methods, the grid a
     * GPTQ method rounds onto (RTN's for GPTQ, k-means' for GPTQ_CODEBOOK).
     *
     * @param method a method other than JLCM
     * @return the quantizer
     * @throws IllegalArgumentException for JLCM, which learns its codebooks
     */
    static WeightQuantizer of(Method method) {
        switch (method) {
            case RTN:
            case GPTQ:
                return new RtnQuantizer();
            case KMEANS:
            case GPTQ_CODEBOOK:
                return new KMeansQuantizer();
            default:
                throw new IllegalArgumentException("method " + method.label() + " has no data-free quantizer");
        }
    }
}
