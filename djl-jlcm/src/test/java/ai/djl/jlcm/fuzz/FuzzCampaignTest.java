package ai.djl.jlcm.fuzz;

import ai.djl.jlcm.export.ManifestFuzzer;
import ai.djl.jlcm.loading.LoadConfigFuzzer;
import ai.djl.jlcm.nn.BitPackingFuzzer;
import ai.djl.jlcm.nn.CodebookParamsFuzzer;

import org.testng.Assert;
import org.testng.annotations.DataProvider;
import org.testng.annotations.Test;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Runs each fuzz harness under Jazzer (coverage-guided, libFuzzer) in its own JVM, from a seed corpus
 * of valid inputs, with a fixed seed. Any exception the harness does not accept, an out-of-memory
 * error, or an input that runs over 1 s fails the test; the crashing input is written under
 * {@code target/fuzz/<harness>/}. {@code -Djlcm.fuzz.runs=N} sets the executions per harness (10 000
 * in the test suite, 1 000 000 with {@code -Pfuzz}); {@code -Djlcm.fuzz.harness=Name} runs one.
 */
public class FuzzCampaignTest {

    private static final Pattern DONE = Pattern.compile("Done (\\d+) runs in (\\d+) second");

    @DataProvider(name = "harnesses")
    public Object[][] harnesses() {
        Object[][] all = {
            {ManifestFuzzer.class, (Supplier<List<byte[]>>) ManifestFuzzer::seeds},
            {CodebookParamsFuzzer.class, (Supplier<List<byte[]>>) CodebookParamsFuzzer::seeds},
            {LoadConfigFuzzer.class, (Supplier<List<byte[]>>) LoadConfigFuzzer::seeds},
            {BitPackingFuzzer.class, (Supplier<List<byte[]>>) BitPackingFuzzer::seeds}
        };
        String only = System.getProperty("jlcm.fuzz.harness", "");
        List<Object[]> chosen = new ArrayList<>();
        for (Object[] h : all) {
            if (only.isEmpty() || ((Class<?>) h[0]).getSimpleName().equals(only)) {
                chosen.add(h);
            }
        }
        return chosen.toArray(new Object[0][]);
    }

    @Test(dataProvider = "harnesses")
    public void fuzz(Class<?> harness, Supplier<List<byte[]>> seeds) throws Exception {
        long runs = Long.getLong("jlcm.fuzz.runs", 10_000);
        Path dir = Files.createDirectories(Paths.get("target", "fuzz", harness.getSimpleName()));
        Path corpus = dir.resolve("corpus"); // fresh each run, so that a run depends only on the seeds
        if (Files.exists(corpus)) {
            try (Stream<Path> files = Files.walk(corpus)) {
                for (Path f : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                    Files.delete(f);
                }
            }
        }
        Files.createDirectories(corpus);
        List<byte[]> inputs = seeds.get();
        for (int i = 0; i < inputs.size(); i++) {
            Files.write(corpus.resolve("seed-" + i), inputs.get(i));
        }
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> command =
                List.of(
                        Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                        "-Xmx2g",
                        "-Dai.djl.offline=true",
                        "-Dai.djl.pytorch.num_threads=1",
                        "-Dai.djl.pytorch.num_interop_threads=1",
                        "-cp",
                        classPath,
                        "com.code_intelligence.jazzer.Jazzer",
                        "--target_class=" + harness.getName(),
                        "--instrumentation_includes=ai.djl.jlcm.**",
                        // jlcm.include/exclude are regular expressions by design; a bad one is refused by key
                        "--disabled_hooks=com.code_intelligence.jazzer.sanitizers.RegexInjection",
                        "--reproducer_path=" + dir.toAbsolutePath(),
                        "-artifact_prefix=" + dir.toAbsolutePath() + File.separator,
                        "-runs=" + runs,
                        "-seed=1",
                        "-timeout=1",
                        "-max_len=4096",
                        "-rss_limit_mb=4096",
                        "-print_final_stats=1",
                        corpus.toString());
        Path log = dir.resolve("jazzer.log");
        long start = System.nanoTime();
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        int exit = process.waitFor();
        double seconds = (System.nanoTime() - start) / 1e9;
        String output = Files.readString(log, StandardCharsets.UTF_8);
        Assert.assertEquals(exit, 0, harness.getSimpleName() + " found a failure (see " + log + "):\n" + tail(output));
        Matcher done = DONE.matcher(output);
        Assert.assertTrue(done.find(), "no run count in " + log);
        long executed = Long.parseLong(done.group(1));
        Assert.assertTrue(executed >= runs, executed + " runs");
        String summary =
                String.format(
                        "%s: %d executions in %s s (libFuzzer), %.1f s with JVM start, no finding%n",
                        harness.getSimpleName(), executed, done.group(2), seconds);
        Files.writeString(dir.resolve("summary.txt"), summary);
        System.out.print(summary);
    }

    private static String tail(String output) {
        return output.substring(Math.max(0, output.length() - 6000));
    }
}
