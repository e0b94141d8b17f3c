package ai.djl.jlcm.safetensors;

import java.util.Arrays;

/**
 * One tensor of a safetensors header.
 *
 * @param name the tensor's name
 * @param dtype its element type
 * @param shape its shape (empty for a scalar)
 * @param begin the offset of its first byte in the data section
 * @param end the offset after its last byte in the data section
 */
public record TensorInfo(String name, SafetensorsDtype dtype, long[] shape, long begin, long end) {

    /**
     * Creates the description.
     *
     * @param name the name
     * @param dtype the element type
     * @param shape the shape
     * @param begin the first byte
     * @param end the byte after the last
     */
    public TensorInfo {
        shape = shape.clone();
    }

    /**
     * Returns the shape.
     *
     * @return a copy of the shape
     */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /**
     * Returns the number of elements.
     *
     * @return the product of the shape
     */
    public long elementCount() {
        return elementCount(shape);
    }

    static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /**
     * Returns the shape as text.
     *
     * @return for example {@code [4096, 11008]}
     */
    public String shapeString() {
        return Arrays.toString(shape);
    }
}
