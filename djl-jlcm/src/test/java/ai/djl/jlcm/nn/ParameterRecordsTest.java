package ai.djl.jlcm.nn;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A codebook block checks every size a {@code .params} file declares before anything is allocated
 * (findings of the {@code .params} fuzz harness and of reading DJL's decoder).
 */
public class ParameterRecordsTest {

    private static final Shape WEIGHT = new Shape(6, 10);

    /** The bytes a real block writes. */
    private static byte[] saved() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            CodebookLinear block =
                    CodebookLinear.codebookBuilder()
                            .setWeight(CodebookWeight.of(CodebookBlocksTest.random(WEIGHT, 3, CodebookMode.MULTI, 3, 1), m))
                            .optBiasArray(m.arange(6f))
                            .optInputShape(new Shape(4, 10))
                            .build();
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            block.saveParameters(new DataOutputStream(bytes));
            return bytes.toByteArray();
        }
    }

    private static String loadFailure(byte[] bytes) {
        try (NDManager m = NDManager.newBaseManager()) {
            CodebookLinear empty =
                    CodebookLinear.codebookBuilder()
                            .setWeight(new CodebookWeight(WEIGHT, 3, CodebookMode.MULTI, 3))
                            .optLayerName("05Linear")
                            .build();
            MalformedModelException e =
                    Assert.expectThrows(
                            MalformedModelException.class,
                            () -> empty.loadParameters(m, new DataInputStream(new ByteArrayInputStream(bytes))));
            return e.getMessage();
        }
    }

    /** The saved bytes up to the record of parameter {@code name}, followed by {@code record}. */
    private static byte[] replaceFrom(byte[] saved, String name, byte[] record) throws IOException {
        ByteArrayOutputStream marker = new ByteArrayOutputStream();
        DataOutputStream os = new DataOutputStream(marker);
        os.writeChar('P');
        os.writeByte(1);
        os.writeUTF(name);
        int at = indexOf(saved, marker.toByteArray());
        return ByteBuffer.allocate(at + record.length).put(saved, 0, at).put(record).array();
    }

    private static int indexOf(byte[] data, byte[] part) {
        outer:
        for (int i = 0; i + part.length <= data.length; i++) {
            for (int j = 0; j < part.length; j++) {
                if (data[i + j] != part[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }

    /** A parameter record declaring a data type, a shape and a byte count, with no data. */
    private static byte[] record(String name, String type, long[] shape, int length) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream os = new DataOutputStream(bytes);
        os.writeChar('P');
        os.writeByte(1);
        os.writeUTF(name);
        os.writeUTF("NDAR");
        os.writeInt(3);
        os.writeByte(0);
        os.writeUTF("DENSE");
        os.writeUTF(type);
        os.write(new Shape(shape).getEncoded());
        os.writeByte('<');
        os.writeInt(length);
        return bytes.toByteArray();
    }

    @Test
    public void aSavedBlockStillLoads() throws IOException, MalformedModelException {
        try (NDManager m = NDManager.newBaseManager()) {
            CodebookLinear empty =
                    CodebookLinear.codebookBuilder().setWeight(new CodebookWeight(WEIGHT, 3, CodebookMode.MULTI, 3)).build();
            empty.loadParameters(m, new DataInputStream(new ByteArrayInputStream(saved())));
            Assert.assertEquals(empty.getCodebookWeight().read().getIndices(), CodebookBlocksTest.random(WEIGHT, 3, CodebookMode.MULTI, 3, 1).getIndices());
            Assert.assertEquals(empty.getDirectParameters().get("bias").getArray().toFloatArray(), new float[] {0, 1, 2, 3, 4, 5});
        }
    }

    /** Was: DJL allocated the declared 2 GiB before reading a byte of data, and only then found the file short. */
    @Test
    public void aHugeDeclaredShapeIsRefusedBeforeAllocation() throws IOException {
        byte[] bytes = replaceFrom(saved(), "codebook", record("codebook", "FLOAT32", new long[] {1_000_000, 1_000_000}, Integer.MAX_VALUE));
        Assert.assertEquals(
                loadFailure(bytes),
                "Layer 05Linear, parameter 'codebook': the parameter file holds shape (1000000, 1000000), expected (3, 8)");
    }

    /** Was: IllegalArgumentException "No enum constant ai.djl.ndarray.types.DataType.UINT4" (fuzzer). */
    @Test
    public void anUnknownDataTypeIsRefused() throws IOException {
        byte[] bytes = replaceFrom(saved(), "indices", record("indices", "UINT4", new long[] {24}, 24));
        Assert.assertEquals(
                loadFailure(bytes),
                "Layer 05Linear, parameter 'indices': the parameter file holds a DENSE UINT4 array, expected a DENSE UINT8 array");
    }

    /** Was: the JVM aborted ("terminate called without an active exception"): a file could kill a server. */
    @Test
    public void anUnsupportedDataTypeNeverReachesTheEngine() throws IOException {
        byte[] record = record("indices", "INT16", new long[] {12}, 24);
        byte[] bytes = replaceFrom(saved(), "indices", Arrays.copyOf(record, record.length + 24)); // with its data
        Assert.assertTrue(loadFailure(bytes).contains("holds a DENSE INT16 array, expected a DENSE UINT8 array"));
    }

    /** Was: OutOfMemoryError (a declared count of 2^31 - 1 input shapes was allocated). */
    @Test
    public void aHugeInputShapeCountIsRefused() throws IOException {
        byte[] bytes = saved();
        ByteBuffer.wrap(bytes).putInt(1, Integer.MAX_VALUE); // after the version byte
        Assert.assertEquals(
                loadFailure(bytes), "Layer 05Linear: the parameter file declares 2147483647 input shapes, expected 1");
    }

    /** Was: NegativeArraySizeException (a negative rank was allocated). */
    @Test
    public void aNegativeRankIsRefused() throws IOException {
        byte[] bytes = saved();
        ByteBuffer.wrap(bytes).putInt(5, -7); // the rank of the input shape
        Assert.assertEquals(
                loadFailure(bytes),
                "Layer 05Linear: the parameter file declares rank -7 for the input shape, expected at most 5");
    }

    /** Was: DJL's "The value does not match any layoutTypes" with no layer named. */
    @Test
    public void anInvalidLayoutIsRefusedWithTheLayerNamed() throws IOException {
        byte[] bytes = saved();
        int layout = 1 + 4 + 4 + 2 * 8 + 4; // version, count, rank, dims, layout length
        ByteBuffer.wrap(bytes).putChar(layout, '%');
        Assert.assertTrue(
                loadFailure(bytes).startsWith("Layer 05Linear: the parameter file declares an invalid input shape: "),
                new String(bytes, StandardCharsets.ISO_8859_1));
    }

    @Test
    public void recordsAreWrittenByteForByteAsDjlWritesThem() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            Parameter[] parameters = {
                Parameter.builder().setName("indices").setType(Parameter.Type.RUNNING_MEAN).build(),
                Parameter.builder().setName("codebook").setType(Parameter.Type.WEIGHT).build(),
                Parameter.builder().setName("unset").setType(Parameter.Type.WEIGHT).build()
            };
            byte[] bytes = new byte[3 * (1 << 20) + 17]; // several megabyte chunks and a remainder
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) (i * 31);
            }
            parameters[0].setArray(manager.create(ByteBuffer.wrap(bytes), new Shape(bytes.length), ai.djl.ndarray.types.DataType.UINT8));
            ai.djl.ndarray.NDArray named = manager.create(new float[] {1.5f, -2f, 3.25f, 0f}, new Shape(2, 2));
            named.setName("cb");
            parameters[1].setArray(named);
            for (Parameter p : parameters) {
                ByteArrayOutputStream ours = new ByteArrayOutputStream();
                ParameterRecords.save(p, new DataOutputStream(ours));
                ByteArrayOutputStream djl = new ByteArrayOutputStream();
                p.save(new DataOutputStream(djl));
                Assert.assertEquals(ours.toByteArray(), djl.toByteArray(), p.getName());
            }
        }
    }
}
