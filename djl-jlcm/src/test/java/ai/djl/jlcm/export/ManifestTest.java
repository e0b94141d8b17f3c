package ai.djl.jlcm.export;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.ZooModel;

import org.testng.Assert;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** A directory is loaded only as its manifest says, and a changed or malformed manifest is named. */
public class ManifestTest {

    private Path good;
    private String text;
    private float[] expected;

    @BeforeClass
    public void export() throws Exception {
        good = Files.createTempDirectory("jlcm-manifest").resolve("good");
        try (Model model = TinyModels.compressed(5)) {
            expected = TinyModels.predict(model);
            ModelExporter.builder().build().export(model, good);
        }
        text = Files.readString(good.resolve(Manifest.FILE_NAME));
    }

    /** Signs a changed manifest text as the writer does, so that only the field checks can refuse it. */
    static String resign(String changed) {
        Matcher m = Pattern.compile("\"" + Manifest.CHECKSUM_FIELD + "\": \"([0-9a-f]{64})\"").matcher(changed);
        Assert.assertTrue(m.find());
        String zeroed = changed.substring(0, m.start(1)) + "0".repeat(64) + changed.substring(m.end(1));
        return zeroed.substring(0, m.start(1)) + Digests.sha256(zeroed) + zeroed.substring(m.end(1));
    }

    private Path copy(String name) throws Exception {
        Path to = Files.createDirectories(good.resolveSibling(name));
        try (Stream<Path> files = Files.list(good)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        return to;
    }

    private static String loadFailure(Path dir) {
        Exception e = Assert.expectThrows(Exception.class, () -> TinyModels.load(dir).close());
        Assert.assertTrue(
                e instanceof IllegalArgumentException || e instanceof MalformedModelException, e.toString());
        return e.getMessage();
    }

    @Test
    public void aStrayParameterFileIsRefusedAndNamed() throws Exception {
        Path dir = copy("stray");
        byte[] params = Files.readAllBytes(dir.resolve("tiny-0000.params"));
        byte[] corrupted = params.clone();
        for (int i = params.length / 2; i < params.length; i++) {
            corrupted[i] ^= 0x55;
        }
        Files.write(dir.resolve("tiny-0007.params"), corrupted);
        String message = loadFailure(dir);
        Assert.assertTrue(message.contains("tiny-0007.params") && message.contains("besides the manifest's"), message);
        Files.delete(dir.resolve("tiny-0007.params"));
        try (ZooModel<NDList, NDList> m = TinyModels.load(dir);
                NDManager data = NDManager.newBaseManager()) {
            float[] out = m.newPredictor().predict(new NDList(TinyModels.input(data))).singletonOrThrow().toFloatArray();
            Assert.assertEquals(out, expected, 0f);
        }
    }

    @Test
    public void anyEditOfTheManifestIsRefused() throws Exception {
        Map<String, String> edits = new LinkedHashMap<>();
        edits.put("bias", text.replaceFirst("\"bias\": true", "\"bias\": false"));
        edits.put("units", text.replaceFirst("\"units\": 4", "\"units\": 5"));
        edits.put("whitespace", text.replaceFirst("\"layers\": \\[", "\"layers\":  ["));
        for (Map.Entry<String, String> e : edits.entrySet()) {
            Assert.assertNotEquals(e.getValue(), text, e.getKey());
            Path dir = copy("edit-" + e.getKey());
            Files.writeString(dir.resolve(Manifest.FILE_NAME), e.getValue());
            String message = loadFailure(dir);
            Assert.assertTrue(message.contains("jlcm.json") && message.contains("changed after it was written"), message);
        }
    }

    @Test
    public void aFormatOneManifestWithoutChecksumStillLoads() throws Exception {
        Path dir = copy("format1");
        String legacy =
                text.replaceFirst("\"format\": 2", "\"format\": 1")
                        .replaceFirst(",\\s*\"" + Manifest.CHECKSUM_FIELD + "\": \"[0-9a-f]{64}\"", "");
        Files.writeString(dir.resolve(Manifest.FILE_NAME), legacy);
        Assert.assertEquals(Manifest.read(dir.resolve(Manifest.FILE_NAME)), Manifest.read(good.resolve(Manifest.FILE_NAME)));
        try (ZooModel<NDList, NDList> m = TinyModels.load(dir)) {
            Assert.assertNotNull(m.getBlock());
        }
    }

    /** Signed manifests with bad fields: each refused with the file and the field named. */
    @Test
    public void badFieldsAreRefusedWithTheFieldNamed() {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put(text.replaceFirst("\"paramsFile\": \"tiny-0000.params\"", "\"paramsFile\": \"../other/tiny-0000.params\""),
                "'paramsFile' must be a file name tiny-NNNN.params in the model directory");
        cases.put(text.replaceFirst("\"bits\": 3", "\"bits\": 4.7"), "'layers[0].bits' must be an integer in [1, 8], got 4.7");
        cases.put(text.replaceFirst("\"bits\": 3", "\"bits\": \"3\""), "'layers[0].bits' must be an integer");
        cases.put(text.replaceFirst("\"bits\": 3", "\"bits\": 9"), "'layers[0].bits' must be an integer in [1, 8], got 9");
        cases.put(text.replaceFirst("\"groups\": 2", "\"groups\": 100000"), "'layers[0].groups' must be an integer in [1, 16]");
        // the tiny linear layer's rows hold 8 weights: vectors of 3 do not divide them
        cases.put(text.replaceFirst("\"bits\": 3", "\"bits\": 3, \"vectorLength\": 3"), "'layers[0].vectorLength' 3 does not divide the 8 weights of a row");
        cases.put(text.replaceFirst("\"bits\": 3", "\"bits\": 3, \"vectorLength\": 9"), "'layers[0].vectorLength' must be an integer in [1, 8], got 9");
        cases.put(text.replaceFirst("\"mode\": \"MULTI\",\\s*\"bias\": true", "\"mode\": \"MULTI\""), "'layers[0].bias' is missing");
        cases.put(text.replaceFirst("\"mode\": \"MULTI\"", "\"mode\": \"FANCY\""), "'layers[0].mode' must be one of [SCALED, MULTI]");
        cases.put(text.replaceFirst("\"shape\": \\[\\s*16,\\s*8\\s*\\]", "\"shape\": \"16x8\""), "'layers[0].shape' must be an array");
        // found by reading while fuzzing: three large dimensions overflowed a long (ArithmeticException)
        cases.put(text.replaceFirst("\"type\": \"linear\",\\s*\"shape\": \\[\\s*16,\\s*8\\s*\\]",
                        "\"type\": \"convolution\", \"shape\": [2147483647, 2147483647, 2147483647]"),
                "'layers[0].shape' [2147483647,2147483647,2147483647] has more than 2147483647 weights");
        cases.put(text.replaceFirst("\"shape\": \\[\\s*16,\\s*8\\s*\\]", "\"shape\": [65536, 65536]"),
                "'layers[0].shape' [65536,65536] has more than 2147483647 weights");
        cases.put(text.replaceFirst("\"path\": \"01Linear\"", "\"path\": \"01Linear\", \"path\": \"02Linear\""), "'layers.path' is given twice");
        cases.put(text.replaceFirst("\"path\": \"01Linear\",", "\"path\": \"01Linear\", \"colour\": \"red\","), "unknown field 'layers[0].colour'");
        cases.put(text.replaceFirst("\"modelName\": \"tiny\",", ""), "'modelName' is missing");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            Assert.assertNotEquals(c.getKey(), text, c.getValue());
            String message = parseFailure(resign(c.getKey()), c.getValue());
            Assert.assertTrue(message.startsWith("jlcm.json: ") && message.contains(c.getValue()), c.getValue() + " <- " + message);
        }
        String layers = Pattern.compile("\"layers\": \\[.*\\]", Pattern.DOTALL).matcher(text).replaceFirst("\"layers\": [" + layerOf(text) + ", " + layerOf(text) + "]");
        Assert.assertTrue(parseFailure(resign(layers), "twice").contains("layer '01Linear' is listed twice"));
    }

    @Test
    public void malformedTextIsRefusedWithAMessage() {
        Map<byte[], String> cases = new LinkedHashMap<>();
        cases.put(new byte[] {'{', (byte) 0xC3, '}'}, "not UTF-8 text");
        cases.put("{not json".getBytes(StandardCharsets.UTF_8), "malformed manifest (not valid JSON at line 1 column");
        cases.put((text + " []").getBytes(StandardCharsets.UTF_8), "not valid JSON at line 56 column");
        cases.put(("[".repeat(1000) + "]".repeat(1000)).getBytes(StandardCharsets.UTF_8), "nested deeper than 64");
        cases.put("[]".getBytes(StandardCharsets.UTF_8), "the manifest must be a JSON object");
        cases.put("{\"format\": 7}".getBytes(StandardCharsets.UTF_8), "'format' must be an integer in [1, 2], got 7");
        cases.put(new byte[0], "malformed manifest");
        for (Map.Entry<byte[], String> c : cases.entrySet()) {
            MalformedModelException e =
                    Assert.expectThrows(MalformedModelException.class, () -> Manifest.parse(c.getKey(), "jlcm.json"));
            Assert.assertTrue(e.getMessage().contains(c.getValue()), c.getValue() + " -> " + e.getMessage());
        }
    }

    private static String layerOf(String manifest) {
        Matcher m = Pattern.compile("\\{\\s*\"path\": \"01Linear\".*?\\}", Pattern.DOTALL).matcher(manifest);
        Assert.assertTrue(m.find());
        return m.group();
    }

    private static String parseFailure(String manifest, String expected) {
        try {
            Manifest.parse(manifest.getBytes(StandardCharsets.UTF_8), "jlcm.json");
        } catch (MalformedModelException e) {
            return e.getMessage();
        }
        throw new AssertionError("accepted, expected: " + expected);
    }
}
