package ai.djl.jlcm.export;

import ai.djl.MalformedModelException;
import ai.djl.jlcm.fuzz.Fuzzing;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.ndarray.types.Shape;

import com.google.gson.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Jazzer harness for {@link Manifest#parse(byte[], String)}: each input is parsed as it is and, when
 * it has a checksum field, once more re-signed as the writer signs, so that mutations reach the field
 * checks behind the checksum. Accepted: a manifest, or a {@link MalformedModelException} with a
 * message.
 */
public final class ManifestFuzzer {

    private static final Pattern CHECKSUM =
            Pattern.compile("\"" + Manifest.CHECKSUM_FIELD + "\": \"([0-9a-fA-F]{64})\"");

    private ManifestFuzzer() {}

    /** Runs the seeds once before fuzzing, so that class loading is not timed as an input. */
    public static void fuzzerInitialize() {
        seeds().forEach(ManifestFuzzer::fuzzerTestOneInput);
    }

    /**
     * Runs one input.
     *
     * @param data the fuzzed bytes
     */
    public static void fuzzerTestOneInput(byte[] data) {
        parse(data);
        String text = new String(data, StandardCharsets.UTF_8);
        Matcher m = CHECKSUM.matcher(text);
        if (m.find()) {
            String zeroed = text.substring(0, m.start(1)) + "0".repeat(64) + text.substring(m.end(1));
            String signed = zeroed.substring(0, m.start(1)) + Digests.sha256(zeroed) + zeroed.substring(m.end(1));
            parse(signed.getBytes(StandardCharsets.UTF_8));
        }
    }

    private static void parse(byte[] bytes) {
        try {
            Manifest.parse(bytes, "jlcm.json");
        } catch (MalformedModelException e) {
            Fuzzing.requireMessage(e);
        }
    }

    /**
     * Returns manifests as the exporter writes them (an architecture, a factory) and one of format 1.
     *
     * @return the seeds
     */
    public static List<byte[]> seeds() {
        JsonObject architecture = new JsonObject();
        architecture.addProperty("type", "sequential");
        List<Manifest.Layer> layers =
                List.of(
                        new Manifest.Layer("01Linear", "linear", new Shape(16, 8), 3, 2, 2, CodebookMode.MULTI, true),
                        new Manifest.Layer(
                                "02Conv2d", "convolution", new Shape(4, 2, 3, 3), 2, 1, 4, CodebookMode.SCALED, false));
        String sha = "ab".repeat(32);
        List<byte[]> seeds = new ArrayList<>();
        seeds.add(written(new Manifest("tiny", "tiny-0000.params", sha, 1234, architecture, null, layers)));
        seeds.add(written(new Manifest("tiny", "tiny-0007.params", sha, 0, null, "a.b.Factory", layers.subList(0, 1))));
        String v1 =
                new String(seeds.get(0), StandardCharsets.UTF_8)
                        .replace("\"format\": 2", "\"format\": 1")
                        .replaceAll(",\\s*\"" + Manifest.CHECKSUM_FIELD + "\": \"[0-9a-f]{64}\"", "");
        seeds.add(v1.getBytes(StandardCharsets.UTF_8));
        return seeds;
    }

    private static byte[] written(Manifest manifest) {
        try {
            Path file = Files.createTempFile("jlcm-fuzz", ".json");
            try {
                manifest.write(file);
                return Files.readAllBytes(file);
            } finally {
                Files.delete(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
