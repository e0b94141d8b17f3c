package ai.djl.jlcm.safetensors;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.testng.Assert;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The safetensors reader and writer on files the tests write, valid and malformed. */
public class SafetensorsTest {

    private Path dir;

    @BeforeClass
    public void setUp() throws Exception {
        dir = Files.createTempDirectory("jlcm-safetensors");
    }

    /** Writes a file by hand: the 8-byte length, the header text as given, then the data bytes. */
    private Path raw(String name, String header, byte[] data) throws Exception {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).array());
        out.write(json);
        out.write(data);
        Path f = dir.resolve(name);
        Files.write(f, out.toByteArray());
        return f;
    }

    private static byte[] shorts(int... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) {
            b.putShort((short) v);
        }
        return b.array();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = new byte[a.length + b.length];
        System.arraycopy(a, 0, c, 0, a.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    @Test
    public void readsHandWrittenHalfAndBfloat16Exactly() throws Exception {
        // bf16: 1.5, -2, 2^-133 (a float subnormal), -inf; f16: 1, 2^-24, 65504, -0, -inf, 0.099975586
        byte[] bf16 = shorts(0x3fc0, 0xc000, 0x0001, 0xff80);
        byte[] f16 = shorts(0x3c00, 0x0001, 0x7bff, 0x8000, 0xfc00, 0x2e66);
        Path f = raw(
                "hand.safetensors",
                "{\"__metadata__\":{\"format\":\"pt\"},"
                        + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                        + "\"h\":{\"dtype\":\"F16\",\"shape\":[6],\"data_offsets\":[8,20]}}",
                concat(bf16, f16));
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            Assert.assertEquals(s.metadata(), Map.of("format", "pt"));
            Assert.assertEquals(List.copyOf(s.names()), List.of("b", "h"));
            Assert.assertEquals(s.info("b").shape(), new long[] {2, 2});
            Assert.assertEquals(
                    s.readFloats("b"), new float[] {1.5f, -2f, Float.intBitsToFloat(0x10000), Float.NEGATIVE_INFINITY});
            float[] h = s.readFloats("h");
            Assert.assertEquals(h, new float[] {1f, 0x1p-24f, 65504f, -0f, Float.NEGATIVE_INFINITY, 0.099975586f});
            Assert.assertEquals(Float.floatToRawIntBits(h[3]), 0x80000000, "negative zero");
        }
    }

    @Test
    public void writerRoundTripsEachDtypeWithRoundingToNearestEven() throws Exception {
        float[] values = {1f, -0.25f, 3.140625f, 0x1p-24f, 1f + 0x1p-11f, 1f + 0x1p-8f, 1f + 3 * 0x1p-11f, 70000f, Float.NaN};
        Path f = dir.resolve("roundtrip.safetensors");
        List<SafetensorsWriter.Spec> specs = List.of(
                new SafetensorsWriter.Spec("f32", SafetensorsDtype.F32, new long[] {3, 3}),
                new SafetensorsWriter.Spec("f16", SafetensorsDtype.F16, new long[] {9}),
                new SafetensorsWriter.Spec("empty", SafetensorsDtype.F32, new long[] {0, 4}),
                new SafetensorsWriter.Spec("bf16", SafetensorsDtype.BF16, new long[] {9, 1}));
        try (SafetensorsWriter w = SafetensorsWriter.create(f, specs, Map.of("k", "v"))) {
            w.write(values, 0, 4); // a tensor may be written in pieces
            w.write(values, 4, 5);
            w.write(values);
            w.write(values);
        }
        Assert.assertEquals(Files.size(f) % 8, 0L, "header padded to 8 bytes, data 9*4 + 9*2 + 9*2 = 72");
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            Assert.assertEquals(s.metadata(), Map.of("k", "v"));
            Assert.assertEquals(s.readFloats("f32"), values);
            Assert.assertEquals(
                    s.readFloats("f16"),
                    new float[] {1f, -0.25f, 3.140625f, 0x1p-24f, 1f, 1f + 0x1p-8f, 1f + 4 * 0x1p-11f, Float.POSITIVE_INFINITY, Float.NaN});
            Assert.assertEquals(s.readFloats("empty").length, 0);
            Assert.assertEquals(
                    s.readFloats("bf16"),
                    new float[] {1f, -0.25f, 3.140625f, 0x1p-24f, 1f, 1f, 1f, 70144f, Float.NaN});
        }
    }

    @Test
    public void engineArrayHasTheTensorsShapeAndValues() throws Exception {
        Path f = dir.resolve("engine.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(
                f, List.of(new SafetensorsWriter.Spec("w", SafetensorsDtype.BF16, new long[] {2, 3})), Map.of())) {
            w.write(new float[] {1, 2, 3, 4, 5, 6});
        }
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(f);
                NDManager m = NDManager.newBaseManager()) {
            NDArray a = c.read(m, "w");
            Assert.assertEquals(a.getShape().getShape(), new long[] {2, 3});
            Assert.assertEquals(a.toFloatArray(), new float[] {1, 2, 3, 4, 5, 6});
        }
    }

    @Test
    public void shardedCheckpointReadsEachTensorFromItsShard() throws Exception {
        Path ckpt = Files.createDirectory(dir.resolve("sharded"));
        writeShard(ckpt.resolve("model-00001-of-00002.safetensors"), "a", new float[] {1, 2});
        writeShard(ckpt.resolve("model-00002-of-00002.safetensors"), "b", new float[] {3, 4, 5});
        SafetensorsWriter.writeIndex(
                ckpt, Map.of("a", "model-00001-of-00002.safetensors", "b", "model-00002-of-00002.safetensors"), 20);
        Assert.assertTrue(SafetensorsCheckpoint.isCheckpoint(ckpt));
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(ckpt)) {
            Assert.assertEquals(c.files().size(), 2);
            Assert.assertEquals(c.names().size(), 2);
            Assert.assertEquals(c.readFloats("a", new long[] {2}), new float[] {1, 2});
            Assert.assertEquals(c.readFloats("b", new long[] {3}), new float[] {3, 4, 5});
            Assert.assertEquals(c.info("b").dtype(), SafetensorsDtype.F16);
            String e = failure(() -> c.readFloats("b", new long[] {1, 3}));
            Assert.assertTrue(e.contains("model-00002-of-00002.safetensors") && e.contains("'b'") && e.contains("[1, 3]"), e);
            e = failure(() -> c.info("c"));
            Assert.assertTrue(e.contains("'c'") && e.contains("sharded"), e);
        }
        // the index names a tensor its shard lacks, or a shard that is missing
        Path bad = Files.createDirectory(dir.resolve("bad-index"));
        writeShard(bad.resolve("s1.safetensors"), "a", new float[] {1});
        SafetensorsWriter.writeIndex(bad, Map.of("a", "s1.safetensors", "x", "s1.safetensors"), 2);
        String e = failure(() -> SafetensorsCheckpoint.open(bad).close());
        Assert.assertTrue(e.contains("'x'") && e.contains("s1.safetensors") && e.contains("no such tensor"), e);
        SafetensorsWriter.writeIndex(bad, Map.of("a", "s2.safetensors"), 2);
        e = failure(() -> SafetensorsCheckpoint.open(bad).close());
        Assert.assertTrue(e.contains("'a'") && e.contains("s2.safetensors") && e.contains("missing"), e);
        SafetensorsWriter.writeIndex(bad, Map.of("a", "../s1.safetensors"), 2);
        e = failure(() -> SafetensorsCheckpoint.open(bad).close());
        Assert.assertTrue(e.contains("not a file name"), e);
        Files.writeString(bad.resolve(SafetensorsCheckpoint.INDEX_FILE), "{\"metadata\":{}}");
        e = failure(() -> SafetensorsCheckpoint.open(bad).close());
        Assert.assertTrue(e.contains("weight_map") && e.contains(SafetensorsCheckpoint.INDEX_FILE), e);
        Path empty = Files.createDirectory(dir.resolve("no-checkpoint"));
        e = Assert.expectThrows(java.io.IOException.class, () -> SafetensorsCheckpoint.open(empty).close()).getMessage();
        Assert.assertTrue(e.contains("no-checkpoint") && e.contains("holds neither"), e);
    }

    private static void writeShard(Path file, String name, float[] values) throws Exception {
        try (SafetensorsWriter w = SafetensorsWriter.create(
                file, List.of(new SafetensorsWriter.Spec(name, SafetensorsDtype.F16, new long[] {values.length})), Map.of())) {
            w.write(values);
        }
    }

    @Test
    public void malformedFilesAreNamedWithTheTensor() throws Exception {
        Path shortFile = dir.resolve("short.safetensors");
        Files.write(shortFile, new byte[] {1, 2, 3});
        assertOpenFails(shortFile, "truncated header");
        Path beyond = raw("beyond.safetensors", "{}", new byte[0]);
        byte[] bytes = Files.readAllBytes(beyond);
        bytes[0] = 100;
        Files.write(beyond, bytes);
        assertOpenFails(beyond, "header length 100 is beyond the file");
        assertOpenFails(raw("json.safetensors", "{\"a\":{\"dtype\":", new byte[0]), "malformed JSON header");
        String t = "{\"w\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":%s}%s}";
        assertOpenFails(raw("dtype.safetensors", String.format(t, "Q4", "[2]", "[0,4]", ""), new byte[4]),
                "'w' has unknown dtype 'Q4'");
        assertOpenFails(raw("range.safetensors", String.format(t, "F32", "[2]", "[0,8]", ""), new byte[4]),
                "'w' data_offsets [0, 8] are out of range");
        assertOpenFails(raw("size.safetensors", String.format(t, "F32", "[3]", "[0,8]", ""), new byte[8]),
                "'w' shape [3] of F32 needs 12 bytes");
        assertOpenFails(raw("order.safetensors", String.format(t, "F32", "[2]", "[8,0]", ""), new byte[8]),
                "are not [begin, end]");
        assertOpenFails(
                raw("overlap.safetensors",
                        String.format(t, "F32", "[2]", "[0,8]", ",\"v\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[6,10]}"),
                        new byte[12]),
                "'v' data_offsets [6, 10] overlap tensor 'w'");
        assertOpenFails(raw("twice.safetensors", String.format(t, "F32", "[1]", "[0,4]", ",\"w\":{}"), new byte[4]),
                "'w' is listed twice");
        assertOpenFails(raw("field.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", new byte[4]),
                "'w' needs dtype, shape and data_offsets");
        assertOpenFails(raw("meta.safetensors", "{\"__metadata__\":{\"n\":1}}", new byte[0]), "__metadata__ 'n' is not a string");
        try (SafetensorsFile s = SafetensorsFile.open(raw("ok.safetensors", String.format(t, "F32", "[1]", "[0,4]", ""), new byte[4]))) {
            String e = failure(() -> s.readFloats("nope"));
            Assert.assertTrue(e.contains("ok.safetensors") && e.contains("no tensor 'nope'"), e);
        }
    }

    private void assertOpenFails(Path file, String expected) {
        String e = failure(() -> SafetensorsFile.open(file).close());
        Assert.assertTrue(e.contains(file.getFileName().toString()) && e.contains(expected), e);
    }

    private static String failure(Assert.ThrowingRunnable r) {
        return Assert.expectThrows(MalformedModelException.class, r).getMessage();
    }
}
