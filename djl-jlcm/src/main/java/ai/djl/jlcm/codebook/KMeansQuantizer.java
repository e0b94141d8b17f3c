package ai.djl.jlcm.codebook;

import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.ndarray.types.Shape;

/**
 * k-means codebooks over contiguous blocks of output channels, without re-ordering.
 *
 * <p>With one group this is the KMEANS-1 baseline (one codebook per tensor, as in Deep Compression
 * or Core ML palettization); with {@code G} groups in MULTI mode it is KMEANS-GROUPED (a codebook per
 * block of channels, as in Core ML's grouped look-up tables). In SCALED mode each group gets a scale
 * (the RMS of its weights) and one codebook is fitted to all scaled weights. The groups and mode
 * come from the layer's {@link LayerSettings}.
 */
public final class KMeansQuantizer implements WeightQuantizer {

    /** {@inheritDoc} Reads the settings' bits, groups and mode. */
    @Override
    public CompressedWeight quantize(float[] weight, Shape shape, LayerSettings settings) {
        int rows = Math.toIntExact(shape.get(0));
        int g = CompressedWeight.groupsFor(settings.getGroups(), shape);
        int[] groupOf = new int[rows];
        for (int o = 0; o < rows; o++) {
            groupOf[o] = (int) ((long) o * g / rows);
        }
        return fit(weight, null, shape, settings.getBits(), settings.getMode(), g, groupOf);
    }

    /**
     * Fits codebooks (and scales) to a weight for a given neuron grouping by importance-weighted
     * k-means, with nearest-codeword indices.
     *
     * <p>In SCALED mode each group's scale is the RMS of its weights and one codebook is fitted to
     * all scaled weights, each weighted by its importance times its group's squared scale (its error
     * in weight units).
     *
     * @param weight the dense weight, row-major
     * @param importance a non-negative importance per weight (for example the squared input
     *     magnitude it multiplies), or {@code null} for uniform importance
     * @param shape its shape
     * @param bits the index width
     * @param mode the mode
     * @param groups the number of groups
     * @param groupOf the group of each neuron
     * @return the compressed weight
     */
    public static CompressedWeight fit(
            float[] weight,
            float[] importance,
            Shape shape,
            int bits,
            CodebookMode mode,
            int groups,
            int[] groupOf) {
        int rows = groupOf.length;
        int cols = Math.toIntExact(shape.size() / rows);
        int k = 1 << bits;
        int[] groupSize = new int[groups];
        for (int o = 0; o < rows; o++) {
            groupSize[groupOf[o]]++;
        }
        if (mode == CodebookMode.SCALED) {
            float[] scales = new float[groups];
            double[] sumSq = new double[groups];
            for (int o = 0; o < rows; o++) {
                for (int n = 0; n < cols; n++) {
                    double v = weight[o * cols + n];
                    sumSq[groupOf[o]] += v * v;
                }
            }
            for (int j = 0; j < groups; j++) {
                double rms = Math.sqrt(sumSq[j] / Math.max(1, (long) groupSize[j] * cols));
                scales[j] = rms > 0 ? (float) rms : 1f;
            }
            float[] scaled = new float[weight.length];
            for (int o = 0; o < rows; o++) {
                for (int n = 0; n < cols; n++) {
                    scaled[o * cols + n] = weight[o * cols + n] / scales[groupOf[o]];
                }
            }
            float[] scaledImportance = null;
            if (importance != null) {
                scaledImportance = new float[weight.length];
                for (int o = 0; o < rows; o++) {
                    float s2 = scales[groupOf[o]] * scales[groupOf[o]];
                    for (int n = 0; n < cols; n++) {
                        scaledImportance[o * cols + n] = importance[o * cols + n] * s2;
                    }
                }
            }
            float[] codebook = fitOrZeros(scaled, scaledImportance, k);
            int[] indices = new int[weight.length];
            for (int i = 0; i < scaled.length; i++) {
                indices[i] = KMeans1d.nearest(scaled[i], codebook);
            }
            return new CompressedWeight(
                    shape, bits, mode, groups, groupOf, codebook, scales, indices);
        }
        float[] codebooks;
        if (groups == 1) { // the whole weight, not a copy (a 7B model's token table is 131 M weights)
            codebooks = weight.length == 0 ? new float[k] : fitOrZeros(weight, importance, k);
        } else {
            codebooks = new float[groups * k];
            for (int j = 0; j < groups; j++) {
                float[] members = new float[groupSize[j] * cols];
                float[] memberImportance = importance == null ? null : new float[members.length];
                int p = 0;
                for (int o = 0; o < rows; o++) {
                    if (groupOf[o] == j) {
                        System.arraycopy(weight, o * cols, members, p, cols);
                        if (importance != null) {
                            System.arraycopy(importance, o * cols, memberImportance, p, cols);
                        }
                        p += cols;
                    }
                }
                float[] codebook = members.length == 0 ? new float[k] : fitOrZeros(members, memberImportance, k);
                System.arraycopy(codebook, 0, codebooks, j * k, k);
            }
        }
        // allocated after the fit, whose sorted copy of the weight is garbage by now
        int[] indices = new int[weight.length];
        float[] codebook = new float[k];
        for (int o = 0; o < rows; o++) {
            System.arraycopy(codebooks, groupOf[o] * k, codebook, 0, k);
            for (int n = 0; n < cols; n++) {
                indices[o * cols + n] = KMeans1d.nearest(weight[o * cols + n], codebook);
            }
        }
        return new CompressedWeight(shape, bits, mode, groups, groupOf, codebooks, null, indices);
    }

    /** Weighted k-means, falling back to unweighted when every importance is zero. */
    private static float[] fitOrZeros(float[] values, float[] importance, int k) {
        if (importance != null) {
            for (float v : importance) {
                if (v > 0) {
                    return KMeans1d.fit(values, importance, k);
                }
            }
        }
        return KMeans1d.fit(values, null, k);
    }

    /** {@inheritDoc} */
    @Override
    public String name() {
        return "kmeans";
    }
}
