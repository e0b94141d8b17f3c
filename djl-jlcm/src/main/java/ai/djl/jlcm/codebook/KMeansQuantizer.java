package ai.djl.jlcm.codebook;

import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.ndarray.types.Shape;

/**
 * k-means codebooks over contiguous blocks of output channels, without re-ordering.
 *
 * <p>With one group this is the KMEANS-1 baseline (one codebook per tensor, as in Deep Compression
 * or Core ML palettization); with {@code G} groups in MULTI mode it is KMEANS-GROUPED (a codebook per
 * block of channels, as in Core ML's grouped look-up tables). In SCALED mode each group gets a scale
 * (the RMS of its weights) and one codebook is fitted to all scaled weights.
 */
public final class KMeansQuantizer implements WeightQuantizer {

    private final int groups;
    private final CodebookMode mode;

    private KMeansQuantizer(Builder builder) {
        groups = builder.groups;
        mode = builder.mode;
    }

    /**
     * Creates a builder.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** {@inheritDoc} */
    @Override
    public CompressedWeight quantize(float[] weight, Shape shape, int bits) {
        CompressedWeight.checkBits(bits);
        int rows = Math.toIntExact(shape.get(0));
        int cols = Math.toIntExact(shape.size() / rows);
        int g = Math.min(groups, rows);
        int[] groupOf = new int[rows];
        for (int o = 0; o < rows; o++) {
            groupOf[o] = (int) ((long) o * g / rows);
        }
        return fit(weight, shape, bits, mode, g, groupOf, cols);
    }

    /**
     * Fits codebooks (and scales) to a weight for a given neuron grouping, with nearest-codeword
     * indices.
     *
     * @param weight the dense weight, row-major
     * @param shape its shape
     * @param bits the index width
     * @param mode the mode
     * @param groups the number of groups
     * @param groupOf the group of each neuron
     * @param cols the weights per neuron
     * @return the compressed weight
     */
    static CompressedWeight fit(
            float[] weight,
            Shape shape,
            int bits,
            CodebookMode mode,
            int groups,
            int[] groupOf,
            int cols) {
        int rows = groupOf.length;
        int k = 1 << bits;
        int[] groupSize = new int[groups];
        for (int o = 0; o < rows; o++) {
            groupSize[groupOf[o]]++;
        }
        int[] indices = new int[weight.length];
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
            float[] codebook = KMeans1d.fit(scaled, null, k);
            for (int i = 0; i < scaled.length; i++) {
                indices[i] = KMeans1d.nearest(scaled[i], codebook);
            }
            return new CompressedWeight(
                    shape, bits, mode, groups, groupOf, codebook, scales, indices);
        }
        float[] codebooks = new float[groups * k];
        for (int j = 0; j < groups; j++) {
            float[] members = new float[groupSize[j] * cols];
            int p = 0;
            for (int o = 0; o < rows; o++) {
                if (groupOf[o] == j) {
                    System.arraycopy(weight, o * cols, members, p, cols);
                    p += cols;
                }
            }
            float[] codebook = members.length == 0 ? new float[k] : KMeans1d.fit(members, null, k);
            System.arraycopy(codebook, 0, codebooks, j * k, k);
        }
        float[] codebook = new float[k];
        for (int o = 0; o < rows; o++) {
            System.arraycopy(codebooks, groupOf[o] * k, codebook, 0, k);
            for (int n = 0; n < cols; n++) {
                indices[o * cols + n] = KMeans1d.nearest(weight[o * cols + n], codebook);
            }
        }
        return new CompressedWeight(shape, bits, mode, groups, groupOf, codebooks, null, indices);
    }

    /** {@inheritDoc} */
    @Override
    public String name() {
        return "kmeans";
    }

    /**
     * Returns the number of groups.
     *
     * @return the groups
     */
    public int getGroups() {
        return groups;
    }

    /**
     * Returns the mode.
     *
     * @return the mode
     */
    public CodebookMode getMode() {
        return mode;
    }

    /** Builds a {@link KMeansQuantizer}. */
    public static final class Builder {

        private int groups = 1;
        private CodebookMode mode = CodebookMode.MULTI;

        Builder() {}

        /**
         * Sets the number of channel groups (default 1; capped at a layer's channel count).
         *
         * @param groups the groups
         * @return this builder
         */
        public Builder optGroups(int groups) {
            this.groups = groups;
            return this;
        }

        /**
         * Sets the mode (default MULTI).
         *
         * @param mode the mode
         * @return this builder
         */
        public Builder optMode(CodebookMode mode) {
            this.mode = mode;
            return this;
        }

        /**
         * Builds the quantizer.
         *
         * @return the quantizer
         */
        public KMeansQuantizer build() {
            if (groups < 1) {
                throw new IllegalArgumentException("groups must be positive: " + groups);
            }
            if (mode == null) {
                throw new IllegalArgumentException("mode must not be null");
            }
            return new KMeansQuantizer(this);
        }
    }
}
