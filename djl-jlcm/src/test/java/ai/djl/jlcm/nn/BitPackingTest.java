package ai.djl.jlcm.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.ByteBuffer;
import java.util.Random;

public class BitPackingTest {

    @Test
    public void javaRoundTripEveryWidthAndOddLengths() {
        Random random = new Random(7);
        for (int bits = 1; bits <= BitPacking.MAX_BITS; bits++) {
            for (int count : new int[] {0, 1, 3, 7, 8, 9, 15, 17, 63, 1001}) {
                int[] values = new int[count];
                for (int i = 0; i < count; i++) {
                    values[i] = random.nextInt(1 << bits);
                }
                byte[] packed = BitPacking.pack(values, bits);
                Assert.assertEquals(packed.length, BitPacking.packedLength(count, bits));
                Assert.assertEquals(BitPacking.unpack(packed, bits, count), values, "bits " + bits);
            }
        }
    }

    @Test
    public void packedLengthIsBitsPerBlockOfEight() {
        Assert.assertEquals(BitPacking.packedLength(16, 2), 4);
        Assert.assertEquals(BitPacking.packedLength(17, 3), 9);
        Assert.assertEquals(BitPacking.packedLength(1, 8), 8);
    }

    @Test
    public void engineUnpackMatchesJava() {
        Random random = new Random(11);
        try (NDManager manager = NDManager.newBaseManager()) {
            for (int bits = 1; bits <= BitPacking.MAX_BITS; bits++) {
                for (int count : new int[] {1, 5, 8, 13, 1000}) {
                    int[] values = new int[count];
                    for (int i = 0; i < count; i++) {
                        values[i] = random.nextInt(1 << bits);
                    }
                    byte[] packed = BitPacking.pack(values, bits);
                    NDArray arr =
                            manager.create(
                                    ByteBuffer.wrap(packed), new Shape(packed.length), DataType.UINT8);
                    NDArray out = BitPacking.unpack(manager, arr, bits, count);
                    Assert.assertEquals(out.getDataType(), DataType.FLOAT32);
                    float[] got = out.toFloatArray();
                    for (int i = 0; i < count; i++) {
                        Assert.assertEquals(got[i], values[i], 0f, "bits " + bits + " index " + i);
                    }
                    // any range, starting inside a block or not
                    int from = count / 3;
                    int n = count - from - count / 5;
                    float[] part = BitPacking.unpack(manager, arr, bits, from, n).toFloatArray();
                    Assert.assertEquals(part.length, n);
                    for (int i = 0; i < n; i++) {
                        Assert.assertEquals(part[i], values[from + i], 0f, "bits " + bits + " range index " + i);
                    }
                }
            }
        }
    }

    @Test
    public void engineWordsHoldConsecutiveValuesLowFirst() {
        Random random = new Random(5);
        try (NDManager manager = NDManager.newBaseManager()) {
            for (int bits = 1; bits <= 8; bits++) {
                for (int u = 1; u <= 8 && u * bits <= 16; u *= 2) {
                    int count = 8 * 37;
                    int[] values = new int[count];
                    for (int i = 0; i < count; i++) {
                        values[i] = random.nextInt(1 << bits);
                    }
                    byte[] packed = BitPacking.pack(values, bits);
                    NDArray arr = manager.create(ByteBuffer.wrap(packed), new Shape(packed.length), DataType.UINT8);
                    int from = 3 * u; // starts inside a block unless u = 8
                    int n = count - from - u;
                    float[] got = BitPacking.unpackWords(manager, arr, bits, u, from, n).toFloatArray();
                    Assert.assertEquals(got.length, n / u);
                    for (int w = 0; w < n / u; w++) {
                        long expected = 0;
                        for (int j = 0; j < u; j++) {
                            expected += (long) values[from + w * u + j] << (j * bits);
                        }
                        Assert.assertEquals(got[w], expected, 0f, bits + " bits, " + u + " per word, word " + w);
                    }
                }
            }
        }
    }

    @Test(expectedExceptions = IllegalArgumentException.class)
    public void engineRangeOutsideThePackedArrayIsRejected() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray arr = manager.create(ByteBuffer.wrap(new byte[3]), new Shape(3), DataType.UINT8);
            BitPacking.unpack(manager, arr, 3, 4, 5); // 9 values of 3 bits need 6 bytes
        }
    }

    @Test(expectedExceptions = IllegalArgumentException.class)
    public void valueTooWideIsRejected() {
        BitPacking.pack(new int[] {4}, 2);
    }

    @Test(expectedExceptions = IllegalArgumentException.class)
    public void wrongPackedLengthIsRejected() {
        BitPacking.unpack(new byte[3], 2, 16);
    }
}
