package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.examples.data.RegistryFetcher;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.testng.Assert;
import org.testng.annotations.Test;

import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

public class AblationCommandTest {

    private static final byte[] PNG_MAGIC = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    private static String[] run(int expectedCode, String... args) {
        return CliRun.run(expectedCode, args);
    }

    private static AblationCommand parse(String... args) {
        AblationCommand command = new AblationCommand();
        new CommandLine(command).parseArgs(args);
        return command;
    }

    @Test
    public void help() {
        Assert.assertTrue(run(0, "--help")[0].contains("ablation"));
        String help = run(0, "ablation", "--help")[0];
        for (String option : List.of("--dataset", "--bits", "--groups", "--steps", "--calibration-samples", "--out", "--cache", "--quick", "--keep-models")) {
            Assert.assertTrue(help.contains(option), option + " missing from\n" + help);
        }
    }

    @Test
    public void parsesCommaSeparatedLists() {
        AblationCommand c = parse("--bits", "3,1,2", "--groups", "16,1", "--steps", "7", "--dataset", "Fashion-MNIST", "--quick");
        Assert.assertEquals(c.bits, List.of(3, 1, 2));
        Assert.assertEquals(c.groups, List.of(16, 1));
        Assert.assertEquals(c.steps, Integer.valueOf(7));
        Assert.assertEquals(c.dataset, "fashion-mnist");
        Assert.assertTrue(c.quick);
        Assert.assertFalse(c.keepModels);
        c = parse("--bits", "2", "--bits", "4");
        Assert.assertEquals(c.bits, List.of(2, 4));
        c = parse();
        Assert.assertNull(c.bits);
        Assert.assertNull(c.groups);
        Assert.assertEquals(c.dataset, "mnist");
        Assert.assertEquals(c.calibrationSamples, 512);
    }

    @Test
    public void checkedListSortsDeduplicatesAndRejects() {
        Assert.assertEquals(AblationCommand.checkedList("--bits", List.of(3, 1, 3, 2), 1, 8), List.of(1, 2, 3));
        Assert.assertEquals(AblationCommand.checkedList("--groups", List.of(64), 1, Integer.MAX_VALUE), List.of(64));
        IllegalArgumentException e =
                Assert.expectThrows(
                        IllegalArgumentException.class, () -> AblationCommand.checkedList("--bits", List.of(2, 9), 1, 8));
        Assert.assertEquals(e.getMessage(), "--bits values must be between 1 and 8, got 9");
        e = Assert.expectThrows(
                IllegalArgumentException.class,
                () -> AblationCommand.checkedList("--groups", List.of(0), 1, Integer.MAX_VALUE));
        Assert.assertEquals(e.getMessage(), "--groups values must be at least 1, got 0");
        Assert.expectThrows(IllegalArgumentException.class, () -> AblationCommand.checkedList("--bits", List.of(), 1, 8));
    }

    @Test
    public void badArgumentsFailBeforeAnyWork() throws IOException {
        Path tmp = Files.createTempDirectory("jlcm-ablation-args");
        Path out = tmp.resolve("out");
        Path cache = tmp.resolve("cache");
        String[] where = {"--out", out.toString(), "--cache", cache.toString()};
        Object[][] cases = {
            {1, "--bits 0,2", "between 1 and 8, got 0"},
            {1, "--bits 1,9", "between 1 and 8, got 9"},
            {1, "--groups 4,0", "at least 1, got 0"},
            {1, "--steps -1", "must not be negative"},
            {1, "--calibration-samples 0", "between 1 and 60000"},
            {1, "--calibration-samples 60001", "between 1 and 60000"},
            {2, "--bits two", "two"},
            {2, "--bits 1,,2", "--bits"},
            {2, "--groups 1.5", "1.5"},
            {2, "--dataset cifar", "mnist or fashion-mnist"},
            {2, "--frobnicate", "frobnicate"},
        };
        for (Object[] c : cases) {
            String[] extra = ((String) c[1]).split(" ");
            String[] args = Stream.of(new String[] {"ablation"}, extra, where).flatMap(Stream::of).toArray(String[]::new);
            String[] r = run((Integer) c[0], args);
            Assert.assertEquals(r[1].strip().lines().count(), 1, c[1] + ": " + r[1]);
            Assert.assertTrue(r[1].contains((String) c[2]), c[1] + ": " + r[1]);
            Assert.assertTrue(r[0].isEmpty(), c[1] + ": " + r[0]);
        }
        Assert.assertFalse(Files.exists(out), "no report directory for bad arguments");
        Assert.assertFalse(Files.exists(cache), "nothing fetched for bad arguments");
        Files.delete(tmp);
    }

    @Test
    public void planHasEveryVariantInTableOrder() {
        List<AblationVariant> plan = AblationCommand.plan(List.of(1, 2, 3), List.of(1, 4, 16));
        Assert.assertEquals(plan.size(), 3 * (3 + 5 * 2 * 3));
        Assert.assertEquals(plan.get(0), new AblationVariant("RTN", null, null, null, 1));
        Assert.assertEquals(plan.get(1), new AblationVariant("KMEANS-1", "multi", 1, null, 1));
        Assert.assertEquals(plan.get(2), new AblationVariant("KMEANS-GROUPED", "multi", 4, null, 1));
        Assert.assertEquals(plan.get(3), new AblationVariant("JLCM", "scaled", 1, "frozen", 1));
        Assert.assertEquals(plan.get(26), new AblationVariant("JLCM", "multi", 16, "proximal", 1));
        Assert.assertEquals(plan.get(32), new AblationVariant("JLCM", "multi", 16, "neighbours", 1));
        Assert.assertEquals(plan.get(33), new AblationVariant("RTN", null, null, null, 2));
        Assert.assertEquals(plan.stream().map(AblationVariant::slug).distinct().count(), plan.size());
        Assert.assertEquals(AblationCommand.plan(List.of(2), List.of(4)).size(), 13);
        Assert.assertEquals(plan.get(26).slug(), "1bit-jlcm-multi-g16-proximal");
        Assert.assertEquals(plan.get(26).describe(), "1 bit JLCM multi G=16 proximal");
    }

    @Test
    public void durations() {
        Assert.assertEquals(AblationCommand.duration(12.4), "12s");
        Assert.assertEquals(AblationCommand.duration(185), "3m05s");
        Assert.assertEquals(AblationCommand.duration(3720), "1h02m");
    }

    @Test
    public void writesMarkdownJsonAndPng() throws IOException {
        List<AblationRow> rows =
                List.of(
                        AblationRow.measured(new AblationVariant("RTN", null, null, null, 2), 2.5, 0.9012, 0.25),
                        AblationRow.measured(new AblationVariant("KMEANS-1", "multi", 1, null, 2), 2.01, 0.95, 1.5),
                        AblationRow.measured(new AblationVariant("KMEANS-GROUPED", "multi", 4, null, 2), 2.04, 0.96, 1.75),
                        AblationRow.measured(new AblationVariant("JLCM", "multi", 4, "proximal", 2), 2.05, 0.975, 8.0),
                        AblationRow.measured(new AblationVariant("JLCM", "scaled", 4, "proximal", 2), 2.02, 0.97, 7.0),
                        AblationRow.measured(new AblationVariant("JLCM", "multi", 4, "proximal", 3), 3.05, 0.985, 9.0),
                        AblationRow.failed(new AblationVariant("JLCM", "multi", 16, "soft", 2), 3.0, "IllegalStateException: boom"));
        AblationReport report =
                new AblationReport("mnist", 0.9915, rows, Map.of("steps", 200, "calibration_samples", 512));
        Path dir = Files.createTempDirectory("jlcm-ablation-report").resolve("nested");
        AblationReport.Written w = report.write(dir);
        Assert.assertEquals(w.markdown(), dir.resolve("ablation-mnist.md"));
        Assert.assertEquals(w.json(), dir.resolve("ablation-mnist.json"));
        Assert.assertEquals(w.chart(), dir.resolve("ablation-mnist.png"));

        byte[] png = Files.readAllBytes(w.chart());
        Assert.assertTrue(png.length > 1000, "PNG of " + png.length + " bytes");
        for (int i = 0; i < PNG_MAGIC.length; i++) {
            Assert.assertEquals(png[i], PNG_MAGIC[i], "PNG magic byte " + i);
        }

        JsonObject json = JsonParser.parseString(Files.readString(w.json())).getAsJsonObject();
        Assert.assertEquals(json.get("dataset").getAsString(), "mnist");
        Assert.assertEquals(json.get("float_accuracy").getAsDouble(), 0.9915, 1e-9);
        Assert.assertEquals(json.get("steps").getAsInt(), 200);
        JsonArray array = json.getAsJsonArray("rows");
        Assert.assertEquals(array.size(), rows.size());
        JsonObject rtn = array.get(0).getAsJsonObject();
        Assert.assertEquals(rtn.get("method").getAsString(), "RTN");
        Assert.assertTrue(rtn.get("mode").isJsonNull());
        Assert.assertTrue(rtn.get("groups").isJsonNull());
        Assert.assertTrue(rtn.get("mapping").isJsonNull());
        Assert.assertEquals(rtn.get("bits").getAsInt(), 2);
        Assert.assertEquals(rtn.get("bits_per_weight").getAsDouble(), 2.5, 1e-12);
        Assert.assertEquals(rtn.get("accuracy").getAsDouble(), 0.9012, 1e-12);
        Assert.assertEquals(rtn.get("seconds").getAsDouble(), 0.25, 1e-12);
        Assert.assertFalse(rtn.has("error"));
        JsonObject jlcm = array.get(3).getAsJsonObject();
        Assert.assertEquals(jlcm.get("method").getAsString(), "JLCM");
        Assert.assertEquals(jlcm.get("mode").getAsString(), "multi");
        Assert.assertEquals(jlcm.get("groups").getAsInt(), 4);
        Assert.assertEquals(jlcm.get("mapping").getAsString(), "proximal");
        Assert.assertEquals(jlcm.get("accuracy").getAsDouble(), 0.975, 1e-12);
        JsonObject failed = array.get(6).getAsJsonObject();
        Assert.assertTrue(failed.get("accuracy").isJsonNull());
        Assert.assertTrue(failed.get("bits_per_weight").isJsonNull());
        Assert.assertEquals(failed.get("seconds").getAsDouble(), 3.0, 1e-12);
        Assert.assertEquals(failed.get("error").getAsString(), "IllegalStateException: boom");

        String md = Files.readString(w.markdown());
        Assert.assertTrue(md.contains(report.table()), md);
        List<String> lines = report.table().lines().toList();
        Assert.assertEquals(lines.size(), 2 + 1 + rows.size());
        Assert.assertEquals(
                lines.get(0).replaceAll(" +", " "),
                "| method | mode | G | mapping | bits | bits/weight | accuracy % | seconds |");
        Assert.assertEquals(lines.get(2).replaceAll(" +", " "), "| float | - | - | - | 32 | 32.000 | 99.15 | - |");
        Assert.assertEquals(lines.get(3).replaceAll(" +", " "), "| RTN | - | - | - | 2 | 2.500 | 90.12 | 0.3 |");
        Assert.assertEquals(
                lines.get(6).replaceAll(" +", " "), "| JLCM | multi | 4 | proximal | 2 | 2.050 | 97.50 | 8.0 |");
        Assert.assertEquals(lines.get(9).replaceAll(" +", " "), "| JLCM | multi | 16 | soft | 2 | - | FAILED | 3.0 |");
        Assert.assertTrue(md.contains("2 bits JLCM multi G=16 soft: IllegalStateException: boom"), md);

        try (Stream<Path> files = Files.list(dir)) {
            Assert.assertEquals(files.count(), 3, "no temporary files left");
        }
        // Writing again replaces the files in place.
        report.write(dir);
        try (Stream<Path> files = Files.list(dir)) {
            Assert.assertEquals(files.count(), 3);
        }
        RegistryFetcher.deleteRecursively(dir.getParent());
    }

}
