package ai.djl.jlcm.nn;

import java.util.Locale;

/**
 * What a codebook block keeps in memory between forward passes, trading memory for speed.
 *
 * <p>Every mode computes the same function (up to float16 rounding in {@link #CACHE_FP16}). The
 * bytes held per weight, beyond the stored parameters, are: {@link #PACKED} 0, {@link
 * #BYTE_INDICES} {@code 1 / floor(8 / bits)} (1/2 at 3 bits), {@link #CACHE_FP16} 2, {@link
 * #CACHE_FP32} 4. Held arrays are built on the first
 * inference pass and dropped when the parameters are loaded again or a training pass runs.
 *
 * <p>Half precision is float16, not bfloat16: the PyTorch engine of DJL aborts the JVM when a
 * bfloat16 tensor is created.
 */
public enum MemoryMode {
    /** Only the stored form: bit-packed indices are unpacked chunk by chunk on every pass. */
    PACKED("packed"),
    /**
     * Indices in whole bytes, {@code floor(8 / bits)} to a byte (two at 3 bits): each chunk is
     * decoded by one gather of byte words from a table of the codewords of every word.
     */
    BYTE_INDICES("byte"),
    /** The decoded weight in float16, widened to float32 chunk by chunk on every pass. */
    CACHE_FP16("fp16"),
    /** The decoded weight in float32: the speed of the dense layer, its memory too. */
    CACHE_FP32("fp32");

    private final String key;

    MemoryMode(String key) {
        this.key = key;
    }

    /**
     * Returns the name of the mode in {@code jlcm.memoryMode} values and command options.
     *
     * @return {@code packed}, {@code byte}, {@code fp16} or {@code fp32}
     */
    public String key() {
        return key;
    }

    /**
     * Returns the mode of a {@link #key()} (case-insensitive).
     *
     * @param value the name
     * @return the mode
     * @throws IllegalArgumentException naming the allowed values if {@code value} is none of them
     */
    public static MemoryMode fromKey(String value) {
        String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
        for (MemoryMode m : values()) {
            if (m.key.equals(v)) {
                return m;
            }
        }
        throw new IllegalArgumentException(
                "unknown memory mode '" + value + "'; allowed values: " + allowedKeys());
    }

    /**
     * Returns the allowed names, for messages.
     *
     * @return {@code packed|byte|fp16|fp32}
     */
    public static String allowedKeys() {
        StringBuilder sb = new StringBuilder();
        for (MemoryMode m : values()) {
            if (sb.length() > 0) {
                sb.append('|');
            }
            sb.append(m.key);
        }
        return sb.toString();
    }
}
