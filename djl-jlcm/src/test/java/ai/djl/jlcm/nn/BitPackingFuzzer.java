package ai.djl.jlcm.nn;

import ai.djl.jlcm.fuzz.Fuzzing;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * Jazzer harness for {@link BitPacking#unpack(byte[], int, int)}: a width and a count from the first
 * 8 bytes, the rest as packed bytes. Accepted: values that pack back to the same values, or an
 * {@link IllegalArgumentException} with a message.
 */
public final class BitPackingFuzzer {

    private BitPackingFuzzer() {}

    /** Runs the seeds once before fuzzing, so that class loading is not timed as an input. */
    public static void fuzzerInitialize() {
        seeds().forEach(BitPackingFuzzer::fuzzerTestOneInput);
    }

    /**
     * Runs one input.
     *
     * @param data the fuzzed bytes
     */
    public static void fuzzerTestOneInput(byte[] data) {
        if (data.length < 8) {
            return;
        }
        ByteBuffer header = ByteBuffer.wrap(data, 0, 8);
        int bits = header.getInt();
        int count = header.getInt();
        byte[] packed = Arrays.copyOfRange(data, 8, data.length);
        int[] values;
        try {
            values = BitPacking.unpack(packed, bits, count);
        } catch (IllegalArgumentException e) {
            Fuzzing.requireMessage(e);
            return;
        }
        if (values.length != count || !Arrays.equals(BitPacking.unpack(BitPacking.pack(values, bits), bits, count), values)) {
            throw new AssertionError("unpack of " + count + " values of " + bits + " bits does not round-trip");
        }
    }

    /**
     * Returns valid inputs: packed values of each width.
     *
     * @return the seeds
     */
    public static List<byte[]> seeds() {
        return List.of(seed(1, 13), seed(3, 8), seed(8, 5), seed(16, 9), seed(5, 0));
    }

    private static byte[] seed(int bits, int count) {
        int[] values = new int[count];
        for (int i = 0; i < count; i++) {
            values[i] = (i * 7 + 3) % (1 << bits);
        }
        byte[] packed = BitPacking.pack(values, bits);
        return ByteBuffer.allocate(8 + packed.length).putInt(bits).putInt(count).put(packed).array();
    }
}
