package ai.djl.jlcm.allocation;

/**
 * A whole-model size target: the model's stored bits over its parameter count must not exceed
 * {@code targetBitsPerWeight}.
 *
 * @param parameterCount the parameter count of the dense model, the denominator of bits per weight
 * @param fixedBits the stored bits of everything the allocation does not choose: parameters that stay
 *     float (biases, norms, layers left uncompressed) and layers already compressed
 * @param targetBitsPerWeight the target, whole model
 */
public record SizeBudget(long parameterCount, long fixedBits, double targetBitsPerWeight) {

    /**
     * Creates a budget.
     *
     * @param parameterCount at least 1
     * @param fixedBits at least 0
     * @param targetBitsPerWeight positive and finite
     * @throws IllegalArgumentException for a value out of range
     */
    public SizeBudget {
        if (parameterCount < 1 || fixedBits < 0) {
            throw new IllegalArgumentException("parameterCount must be positive and fixedBits >= 0: " + parameterCount + ", " + fixedBits);
        }
        checkTarget(targetBitsPerWeight);
    }

    /**
     * Checks a target.
     *
     * @param targetBitsPerWeight the target
     * @return the target
     * @throws IllegalArgumentException if it is not positive and finite
     */
    public static double checkTarget(double targetBitsPerWeight) {
        if (!(targetBitsPerWeight > 0) || Double.isInfinite(targetBitsPerWeight)) {
            throw new IllegalArgumentException("the target bits per weight must be positive and finite, got " + targetBitsPerWeight);
        }
        return targetBitsPerWeight;
    }

    /**
     * Returns the most stored bits the whole model may have: the largest total whose bits per weight,
     * computed in floating point as reports compute it, is at most the target.
     *
     * @return the stored bits allowed, fixed bits included
     */
    public long maxStoredBits() {
        long bits = (long) Math.floor(targetBitsPerWeight * parameterCount) + 1;
        while (bits > 0 && bitsPerWeight(bits) > targetBitsPerWeight) {
            bits--;
        }
        return bits;
    }

    /**
     * Returns the bits per weight of a whole-model total.
     *
     * @param storedBits the model's stored bits
     * @return {@code storedBits / parameterCount}
     */
    public double bitsPerWeight(long storedBits) {
        return (double) storedBits / parameterCount;
    }
}
