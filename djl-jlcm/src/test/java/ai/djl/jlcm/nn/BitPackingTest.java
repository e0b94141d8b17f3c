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
            for (int bits = 1; bits <= 8; bits++) {
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
                    Assert.assertEquals(out.getDataType(), DataType.INT64);
                    long[] got = out.toLongArray();
                    for (int i = 0; i < count; i++) {
                        Assert.assertEquals(got[i], values[i], "bits " + bits + " index " + i);
                    }
                }
            }
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
