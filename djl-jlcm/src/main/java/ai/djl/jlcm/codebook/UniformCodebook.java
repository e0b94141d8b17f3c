package ai.djl.jlcm.codebook;

/** Uniform codebooks, as used by round-to-nearest (RTN) quantization. */
public final class UniformCodebook {

    private UniformCodebook() {}

    /**
     * Returns {@code k} evenly spaced levels from {@code min} to {@code max} inclusive.
     *
     * @param min the lowest level
     * @param max the highest level
     * @param k the number of levels
     * @return the levels in ascending order
     */
    public static float[] levels(float min, float max, int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be positive: " + k);
        }
        if (!(min <= max)) {
            throw new IllegalArgumentException("min " + min + " > max " + max);
        }
        float[] out = new float[k];
        if (k == 1) {
            out[0] = (min + max) / 2;
            return out;
        }
        for (int i = 0; i < k; i++) {
            out[i] = (float) (min + ((double) max - min) * i / (k - 1));
        }
        return out;
    }
}
