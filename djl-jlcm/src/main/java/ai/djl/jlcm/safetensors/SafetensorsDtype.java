package ai.djl.jlcm.safetensors;

import java.nio.ByteBuffer;

/**
 * The element types this package reads and writes, all little-endian floats. Values are always
 * converted to or from {@code float} in Java: no half-precision tensor is created in the engine (a
 * bfloat16 tensor aborts DJL's PyTorch engine).
 */
public enum SafetensorsDtype {
    /** IEEE binary32. */
    F32(4),
    /** IEEE binary16. */
    F16(2),
    /** bfloat16: the upper 16 bits of a binary32. */
    BF16(2);

    private final int bytes;

    SafetensorsDtype(int bytes) {
        this.bytes = bytes;
    }

    /**
     * Returns the size of one element.
     *
     * @return bytes per element
     */
    public int bytes() {
        return bytes;
    }

    /**
     * Returns the type of a header's {@code dtype} string.
     *
     * @param name the name, for example {@code BF16}
     * @return the type, or {@code null} if this package does not handle it
     */
    static SafetensorsDtype of(String name) {
        for (SafetensorsDtype d : values()) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }

    /**
     * Decodes {@code count} elements from a little-endian buffer.
     *
     * @param src the buffer, read from its position
     * @param dst the destination
     * @param offset where in {@code dst} the first value goes
     * @param count the number of elements
     */
    void decode(ByteBuffer src, float[] dst, int offset, int count) {
        for (int i = 0; i < count; i++) {
            switch (this) {
                case F32:
                    dst[offset + i] = src.getFloat();
                    break;
                case F16:
                    dst[offset + i] = halfToFloat(src.getShort() & 0xffff);
                    break;
                default:
                    dst[offset + i] = Float.intBitsToFloat((src.getShort() & 0xffff) << 16);
            }
        }
    }

    /**
     * Encodes {@code count} values into a little-endian buffer, rounding to nearest even.
     *
     * @param src the values
     * @param offset the first value
     * @param count the number of values
     * @param dst the buffer, written from its position
     */
    void encode(float[] src, int offset, int count, ByteBuffer dst) {
        for (int i = 0; i < count; i++) {
            float v = src[offset + i];
            switch (this) {
                case F32:
                    dst.putFloat(v);
                    break;
                case F16:
                    dst.putShort(floatToHalf(v));
                    break;
                default:
                    dst.putShort(floatToBfloat16(v));
            }
        }
    }

    /**
     * Converts IEEE binary16 bits to a float (exactly: every half is a float).
     *
     * @param h the 16 bits
     * @return the value
     */
    static float halfToFloat(int h) {
        int sign = (h >>> 15) & 1;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0) {
            float v = mant * 0x1p-24f; // zero or subnormal
            return sign == 1 ? -v : v;
        }
        if (exp == 0x1f) {
            if (mant != 0) {
                return Float.NaN;
            }
            return sign == 1 ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY;
        }
        return Float.intBitsToFloat((sign << 31) | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /**
     * Rounds a float to the nearest IEEE binary16 (ties to even; overflow to infinity).
     *
     * @param f the value
     * @return the 16 bits
     */
    static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7fffffff;
        if (abs >= 0x7f800000) {
            return (short) (sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00));
        }
        if (abs >= 0x477ff000) { // 65520 and above round to infinity
            return (short) (sign | 0x7c00);
        }
        if (abs < 0x38800000) { // below 2^-14: a subnormal half (exact scaling, then ties to even)
            return (short) (sign | (int) Math.rint(Float.intBitsToFloat(abs) * 0x1p24f));
        }
        int half = (((abs >>> 23) - 127 + 15) << 10) | ((abs >>> 13) & 0x3ff);
        int rest = abs & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (half & 1) == 1)) {
            half++; // a carry into the exponent is the correct rounding
        }
        return (short) (sign | half);
    }

    /**
     * Rounds a float to the nearest bfloat16 (ties to even).
     *
     * @param f the value
     * @return the 16 bits
     */
    static short floatToBfloat16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x40); // quiet NaN
        }
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }
}
