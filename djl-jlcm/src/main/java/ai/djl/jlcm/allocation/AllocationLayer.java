package ai.djl.jlcm.allocation;

/** A layer whose index width the {@link BitAllocator} chooses. */
public interface AllocationLayer {

    /**
     * Returns the layer's path in the block tree.
     *
     * @return the path
     */
    String path();

    /**
     * Returns the bits the layer stores at a width, every overhead included, as {@code ModelSize}
     * counts them (once per place the model holds the layer).
     *
     * @param bits the index width
     * @return the stored bits
     */
    long storedBits(int bits);

    /**
     * Returns the layer's predicted loss at a width (its sensitivity); lower is better, and it should
     * not grow with the width. Called only for the widths the allocator considers, possibly from
     * several threads at once for different layers.
     *
     * @param bits the index width
     * @return the predicted loss
     */
    double error(int bits);
}
