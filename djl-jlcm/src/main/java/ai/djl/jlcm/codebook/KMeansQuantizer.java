package ai.djl.jlcm.codebook;

import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.ndarray.types.Shape;

import java.util.Arrays;
import java.util.stream.IntStream;

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

    /** {@inheritDoc} Reads the settings' bits, vector length, groups and mode. */
    @Override
    public CompressedWeight quantize(float[] weight, Shape shape, LayerSettings settings) {
        int rows = Math.toIntExact(shape.get(0));
        int g = CompressedWeight.groupsFor(settings.getGroups(), shape);
        int[] groupOf = new int[rows];
        for (int o = 0; o < rows; o++) {
            groupOf[o] = (int) ((long) o * g / rows);
        }
        return fit(weight, null, shape, settings.getIndexBits(), settings.getVectorLength(), settings.getMode(), g, groupOf);
    }

    /**
     * Fits codebooks (and scales) to a weight for a given neuron grouping by importance-weighted
     * k-means, with nearest-codeword indices.
     *
     * <p>In SCALED mode each group's scale is the RMS of its weights and one codebook is fitted to
     * all scaled weights, each weighted by its importance times its group's squared scale (its error
     * in weight units).
     *
     * <p>Scalar codebooks ({@code vectorLength} 1) are fitted by {@link KMeans1d}; vector codebooks by
     * {@link VectorKMeans} over consecutive {@code vectorLength}-weight pieces of the rows, with a
     * fixed seed per codebook.
     *
     * @param weight the dense weight, row-major
     * @param importance a non-negative importance per weight (for example the squared input
     *     magnitude it multiplies), or {@code null} for uniform importance
     * @param shape its shape
     * @param bits the index width
     * @param vectorLength the weights per codeword
     * @param mode the mode
     * @param groups the number of groups
     * @param groupOf the group of each neuron
     * @return the compressed weight
     * @throws IllegalArgumentException if the vector length does not divide a row
     */
    public static CompressedWeight fit(
            float[] weight,
            float[] importance,
            Shape shape,
            int bits,
            int vectorLength,
            CodebookMode mode,
            int groups,
            int[] groupOf) {
        CompressedWeight.checkVectorLength(shape, vectorLength);
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
            float[] codebook = fitOrZeros(scaled, scaledImportance, 0, scaled.length, vectorLength, k, 0);
            int[] indices = new int[weight.length / vectorLength];
            for (int i = 0; i < indices.length; i++) {
                indices[i] = nearest(scaled, scaledImportance, i * vectorLength, codebook, vectorLength);
            }
            return new CompressedWeight(
                    shape, bits, vectorLength, mode, groups, groupOf, codebook, scales, indices);
        }
        int values = k * vectorLength;
        float[] codebooks;
        if (groups == 1) { // the whole weight, not a copy (a 7B model's token table is 131 M weights)
            codebooks = weight.length == 0 ? new float[values] : fitOrZeros(weight, importance, 0, weight.length, vectorLength, k, 0);
        } else {
            codebooks = new float[groups * values];
            float[] all = codebooks;
            // the groups' fits are independent and seeded by group: in parallel, the same result
            IntStream.range(0, groups).parallel().forEach(j -> {
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
                float[] codebook =
                        members.length == 0
                                ? new float[values]
                                : fitOrZeros(members, memberImportance, 0, members.length, vectorLength, k, j);
                System.arraycopy(codebook, 0, all, j * values, values);
            });
        }
        // allocated after the fit, whose sorted copy of the weight is garbage by now
        int[] indices = new int[weight.length / vectorLength];
        int indexCols = cols / vectorLength;
        float[] all = codebooks;
        IntStream.range(0, rows).parallel().forEach(o -> {
            float[] codebook = Arrays.copyOfRange(all, groupOf[o] * values, (groupOf[o] + 1) * values);
            for (int n = 0; n < indexCols; n++) {
                indices[o * indexCols + n] = nearest(weight, importance, (o * indexCols + n) * vectorLength, codebook, vectorLength);
            }
        });
        return new CompressedWeight(shape, bits, vectorLength, mode, groups, groupOf, codebooks, null, indices);
    }

    /** The codeword nearest to the piece at {@code at}: by value for scalars, importance-weighted for vectors. */
    private static int nearest(float[] values, float[] importance, int at, float[] codebook, int vectorLength) {
        return vectorLength == 1
                ? KMeans1d.nearest(values[at], codebook)
                : VectorKMeans.nearest(values, importance, at, codebook, vectorLength);
    }

    /** Weighted k-means, falling back to unweighted when every importance is zero. */
    private static float[] fitOrZeros(float[] values, float[] importance, int from, int length, int vectorLength, int k, long seed) {
        float[] weights = importance;
        if (importance != null) {
            weights = null;
            for (float v : importance) {
                if (v > 0) {
                    weights = importance;
                    break;
                }
            }
        }
        return vectorLength == 1
                ? KMeans1d.fit(values, weights, k)
                : VectorKMeans.fit(values, weights, from, length, vectorLength, k, seed);
    }

    /** {@inheritDoc} */
    @Override
    public String name() {
        return "kmeans";
    }
}
