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
     * @return a FLOAT32 array of {@code count} values (exact integers)
     */
    public static NDArray unpack(NDManager manager, NDArray packed, int bits, long count) {
        checkLength(packed.size(), count, bits);
        return unpack(manager, packed, bits, 0, count);
    }

    /**
     * Unpacks the values {@code [from, from + count)} of a packed array on the engine; only the
     * bytes that hold them are read.
     *
     * @param manager the manager that owns the result
     * @param packed a UINT8 array of packed values
     * @param bits the width of each value
     * @param from the first value to read
     * @param count the number of values to read
     * @return a FLOAT32 array of {@code count} values (exact integers)
     */
    public static NDArray unpack(NDManager manager, NDArray packed, int bits, long from, long count) {
        checkBits(bits);
        return words(manager, packed, bits, 1, from, count);
    }

    /**
     * Unpacks words of {@code valuesPerWord} consecutive values on the engine: word {@code i} is
     * {@code Σ_j v[from + i·u + j] · 2^(j·bits)}, the values' bits as they lie in the stream. A word
     * of {@code u} indices is the key of a lookup table of {@code u} codewords, so decoding costs one
     * gather per word instead of one per value.
     *
     * @param manager the manager that owns the result
     * @param packed a UINT8 array of packed values
     * @param bits the width of each value, 1 to 8
     * @param valuesPerWord values per word: 1, 2, 4 or 8, with {@code valuesPerWord · bits <= 16}
     * @param from the first value; a multiple of {@code valuesPerWord}
     * @param count the number of values; a multiple of {@code valuesPerWord}
     * @return a FLOAT32 array of {@code count / valuesPerWord} words (exact integers)
     */
    public static NDArray unpackWords(
            NDManager manager, NDArray packed, int bits, int valuesPerWord, long from, long count) {
        if (bits < 1 || bits > 8 || 8 % valuesPerWord != 0 || valuesPerWord * bits > 16) {
            throw new IllegalArgumentException(
                    "cannot read words of " + valuesPerWord + " values of " + bits + " bits");
        }
        if (from % valuesPerWord != 0 || count % valuesPerWord != 0) {
            throw new IllegalArgumentException(
                    "values [" + from + ", " + (from + count) + ") are not whole words of " + valuesPerWord);
        }
        return words(manager, packed, bits, valuesPerWord, from, count);
    }

    private static NDArray words(
            NDManager manager, NDArray packed, int bits, int perWord, long from, long count) {
        if (from < 0 || count < 0 || packedLength(from + count, bits) > packed.size()) {
            throw new IllegalArgumentException(
                    "values [" + from + ", " + (from + count) + ") are outside a packed array of "
                            + packed.size() + " bytes at " + bits + " bits");
        }
        if (count == 0) {
            return manager.zeros(new Shape(0));
        }
        long firstBlock = from / 8;
        long endBlock = (from + count + 7) / 8;
        NDArray bytes = packed.get(firstBlock * bits + ":" + endBlock * bits);
        bytes.attach(manager);
        NDArray words = unpackBlocks(manager, bytes, bits, perWord);
        long skip = (from - firstBlock * 8) / perWord;
        long n = count / perWord;
        if (skip == 0 && n == words.size()) {
            return words;
        }
        return words.get(skip + ":" + (skip + n));
    }

    /**
     * Unpacks whole blocks of 8 values on the engine.
     *
     * @param manager the manager that owns the result
     * @param blocks UINT8 bytes, any shape, {@code m·bits} in all
     * @param bits the width of each value
     * @return a FLOAT32 array of the {@code m·8} values (exact integers)
     */
    public static NDArray unpackBlocks(NDManager manager, NDArray blocks, int bits) {
        checkBits(bits);
        return unpackBlocks(manager, blocks, bits, 1);
    }

    /**
     * Unpacks whole blocks into words of {@code perWord} values.
     *
     * <p>Word {@code j} of a block starts at bit {@code o = j·w mod 8} of byte {@code k = j·w / 8}
     * ({@code w = perWord·bits}) and spans at most three bytes, so it is {@code floor(Σ_i B[k+i] ·
     * 2^(8i-o)) mod 2^w} over the bytes it overlaps: one product of the block's bytes with a constant
     * matrix, exact in float32 (the sum holds at most 24 significant bits).
     */
    private static NDArray unpackBlocks(NDManager manager, NDArray blocks, int bits, int perWord) {
        long m = blocks.size() / bits;
        int width = perWord * bits;
        int wordsPerBlock = 8 / perWord;
        NDArray bytes = blocks.toType(DataType.FLOAT32, false);
        bytes.attach(manager);
        if (width == 8) {
            return bytes.reshape(m * wordsPerBlock);
        }
        float[] weights = new float[wordsPerBlock * bits];
        for (int j = 0; j < wordsPerBlock; j++) {
            int start = j * width;
            int k = start / 8;
            int o = start % 8;
            for (int i = 0; k + i < bits && 8 * i < o + width; i++) {
                weights[j * bits + k + i] = (float) Math.scalb(1.0, 8 * i - o);
            }
        }
        // [words per block, bits] x [bits, m]: the bytes' transposed view costs no copy
        NDArray sums =
                manager.create(weights, new Shape(wordsPerBlock, bits))
                        .matMul(bytes.reshape(m, bits).transpose())
                        .transpose()
                        .floor();
        return sums.mod((float) (1 << width)).reshape(m * wordsPerBlock);
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
