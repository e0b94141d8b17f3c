package ai.djl.jlcm.loading;

import ai.djl.jlcm.fuzz.Fuzzing;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Jazzer harness for the {@code jlcm.*} keys: the input is read as a {@code serving.properties} file
 * (as DJL reads it), and its {@code jlcm.*} keys are checked as a load and as builder settings.
 * Accepted: settings, or an {@link IllegalArgumentException} whose message names one of the keys.
 */
public final class LoadConfigFuzzer {

    private LoadConfigFuzzer() {}

    /** Runs the seeds once before fuzzing, so that class loading is not timed as an input. */
    public static void fuzzerInitialize() {
        seeds().forEach(LoadConfigFuzzer::fuzzerTestOneInput);
    }

    /**
     * Runs one input.
     *
     * @param data the fuzzed bytes
     */
    public static void fuzzerTestOneInput(byte[] data) {
        Properties properties = new Properties();
        try {
            properties.load(new StringReader(new String(data, StandardCharsets.UTF_8)));
        } catch (IOException | IllegalArgumentException e) {
            return; // not a properties file: DJL refuses it before any jlcm.* key is read
        }
        Map<String, String> values = new HashMap<>();
        for (String key : properties.stringPropertyNames()) {
            if (key.startsWith(LoadConfig.PREFIX)) {
                values.put(key, properties.getProperty(key));
            }
        }
        boolean calibration = data.length > 0 && (data[0] & 1) != 0;
        check(values, () -> LoadConfig.parse(values, null, calibration, key -> "serving.properties", Paths.get("model")));
        check(values, () -> LoadConfig.checkValues(values, calibration, key -> "builder"));
    }

    private static void check(Map<String, String> values, Runnable parse) {
        try {
            parse.run();
        } catch (IllegalArgumentException e) {
            Fuzzing.requireMessage(e);
            if (values.keySet().stream().noneMatch(e.getMessage()::contains)) {
                throw new AssertionError("the message names no key of " + values.keySet(), e);
            }
        }
    }

    /**
     * Returns settings a user writes: each method, selections, cache keys.
     *
     * @return the seeds
     */
    public static List<byte[]> seeds() {
        return List.of(
                bytes("engine=PyTorch\njlcm.bits=4\njlcm.groups=4\njlcm.mode=multi\n"),
                bytes("jlcm.method=rtn\njlcm.bits=2\njlcm.layers=linear, conv2d\njlcm.minWeights=100\n"),
                bytes("\u0001jlcm.method=jlcm\njlcm.steps=50\njlcm.seed=-3\njlcm.include=0[0-9]Linear\n"),
                bytes("jlcm.calibration=calib.ndlist\njlcm.calibrationBatch=64\njlcm.exclude=^01\n"),
                bytes("jlcm.cacheDir=cache\njlcm.cacheEnabled=false\njlcm.cacheDecodedWeight=true\n"
                        + "jlcm.blockFactory=com.example.Factory\n"));
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
