package ai.djl.jlcm.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Packs small unsigned integers (1 to 16 bits each) into bytes and unpacks them, in Java and on the
 * engine.
 *
 * <p>Layout: values are taken in blocks of 8; a block of 8 values of {@code b} bits occupies exactly
 * {@code b} bytes. Within a block, value {@code j} occupies bits {@code [j·b, j·b + b)} of the block's
 * little-endian bit stream (bit {@code t} of byte {@code k} is stream bit {@code 8k + t}). The last
 * block is padded with zeros, so a packed array holds {@code ceil(count / 8) · b} bytes.
 */
public final class BitPacking {

    /** The largest supported width in bits. */
    public static final int MAX_BITS = 16;

    private BitPacking() {}

    /**
     * Returns the number of bytes that {@code count} values of {@code bits} bits occupy.
     *
     * @param count the number of values
     * @param bits the width of each value
     * @return the packed length in bytes
     */
    public static long packedLength(long count, int bits) {
        checkBits(bits);
        if (count < 0) {
            throw new IllegalArgumentException("count must not be negative: " + count);
        }
        return (count + 7) / 8 * bits;
    }

    /**
     * Packs values into bytes.
     *
     * @param values the values, each in {@code [0, 2^bits)}
     * @param bits the width of each value, 1 to 16
     * @return the packed bytes
     */
    public static byte[] pack(int[] values, int bits) {
        long length = packedLength(values.length, bits);
        if (length > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("too many values to pack: " + values.length);
        }
        byte[] out = new byte[(int) length];
        int limit = 1 << bits;
        long bitPos = 0;
        for (int i = 0; i < values.length; i++) {
            int v = values[i];
            if (v < 0 || v >= limit) {
                throw new IllegalArgumentException(
                        "value " + v + " at " + i + " does not fit in " + bits + " bits");
            }
            for (int t = 0; t < bits; t++, bitPos++) {
                if (((v >>> t) & 1) != 0) {
                    out[(int) (bitPos >>> 3)] |= (byte) (1 << (bitPos & 7));
                }
            }
        }
        return out;
    }

    /**
     * Unpacks values from bytes.
     *
     * @param packed the packed bytes
     * @param bits the width of each value
     * @param count the number of values to read
     * @return the values
     */
    public static int[] unpack(byte[] packed, int bits, int count) {
        checkLength(packed.length, count, bits);
        int[] out = new int[count];
        long bitPos = 0;
        for (int i = 0; i < count; i++) {
            int v = 0;
            for (int t = 0; t < bits; t++, bitPos++) {
                v |= ((packed[(int) (bitPos >>> 3)] >>> (bitPos & 7)) & 1) << t;
            }
            out[i] = v;
        }
        return out;
    }

    /**
     * Unpacks values on the engine, with arithmetic only (the engine has no bitwise operators).
     *
     * <p>The result is created in {@code manager}.
     *
     * @param manager the manager that owns the result
     * @param packed a UINT8 array of {@link #packedLength(long, int)} bytes
     * @param bits the width of each value
     * @param count the number of values to read
     * @return an INT64 array of {@code count} values
     */
    public static NDArray unpack(NDManager manager, NDArray packed, int bits, long count) {
        checkLength(packed.size(), count, bits);
        long blocks = (count + 7) / 8;
        if (blocks == 0) {
            return manager.create(new long[0]);
        }
        // bytes -> bit stream [blocks, 8 values, bits] -> values by a dot product with powers of 2.
        NDArray bytes = packed.toType(DataType.FLOAT32, true);
        bytes.attach(manager);
        NDArray byteBits = manager.create(new float[] {1, 2, 4, 8, 16, 32, 64, 128});
        NDArray stream =
                bytes.reshape(blocks * bits, 1).div(byteBits).floor().mod(2f).reshape(blocks, 8, bits);
        float[] powers = new float[bits];
        for (int t = 0; t < bits; t++) {
            powers[t] = 1 << t;
        }
        NDArray values = stream.matMul(manager.create(powers, new Shape(bits, 1)));
        return values.reshape(blocks * 8).get("0:" + count).toType(DataType.INT64, false);
    }

    private static void checkLength(long packedLength, long count, int bits) {
        long expected = packedLength(count, bits);
        if (packedLength != expected) {
            throw new IllegalArgumentException(
                    "packed length "
                            + packedLength
                            + " does not match "
                            + count
                            + " values of "
                            + bits
                            + " bits (expected "
                            + expected
                            + ")");
        }
    }

    private static void checkBits(int bits) {
        if (bits < 1 || bits > MAX_BITS) {
            throw new IllegalArgumentException(
                    "bits must be between 1 and " + MAX_BITS + ", got " + bits);
        }
    }
}
