package ai.djl.jlcm.codebook;

/** Uniform codebooks, as used by round-to-nearest (RTN) quantization. */
public final class UniformCodebook {

    private UniformCodebook() {}

    /**
     * Returns the {@code k} levels of asymmetric uniform quantization with an integer zero point,
     * as integer quantizers (and GPTQ's RTN baseline) store them: the range {@code [min, max]} is
     * widened to hold 0, {@code s = (max − min)/(k − 1)}, {@code z = round(−min/s)} and level
     * {@code i} is {@code (i − z)·s}. Zero is a level, so weights near zero are not all shifted the
     * same way; every value of the range is within {@code s/2} of a level.
     *
     * @param min the smallest value to cover
     * @param max the largest value to cover
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
            return out;
        }
        double lo = Math.min(min, 0);
        double hi = Math.max(max, 0);
        double step = hi > lo ? (hi - lo) / (k - 1) : 1;
        long zero = Math.round(-lo / step);
        for (int i = 0; i < k; i++) {
            out[i] = (float) ((i - zero) * step);
        }
        return out;
    }
}
