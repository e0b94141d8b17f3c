package ai.djl.jlcm.examples.cli;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;

public class JlcmCliTest {

    private static String[] run(int expectedCode, String... args) {
        return CliRun.run(expectedCode, args);
    }

    @Test
    public void helpOnEveryCommand() {
        Assert.assertTrue(run(0, "--help")[0].contains("demo"));
        Assert.assertTrue(run(0, "demo", "--help")[0].contains("--bits"));
        Assert.assertTrue(run(0, "inspect", "--help")[0].contains("DIR"));
    }

    @Test
    public void badArgumentsGiveOneLineAndNonZeroExit() {
        String[] r = run(2, "demo", "--method", "magic");
        Assert.assertEquals(r[1].strip().lines().count(), 1, r[1]);
        Assert.assertTrue(r[1].contains("rtn, kmeans"), r[1]);
        r = run(1, "demo", "--bits", "9");
        Assert.assertEquals(r[1].strip().lines().count(), 1, r[1]);
        Assert.assertTrue(r[1].contains("between 1 and 8"), r[1]);
        r = run(1, "demo", "--target-bits", "0");
        Assert.assertTrue(r[1].contains("--target-bits must be above 0"), r[1]);
        r = run(1, "demo", "--sensitivity", "fisher");
        Assert.assertTrue(r[1].contains("--sensitivity applies to --target-bits only"), r[1]);
        r = run(2, "bert", "compress", "--target-bits", "2.3", "--sensitivity", "hessian");
        Assert.assertTrue(r[1].contains("unknown sensitivity 'hessian'; choose weight or fisher"), r[1]);
        r = run(1, "zoo", "--sensitivity", "weight");
        Assert.assertTrue(r[1].contains("--sensitivity applies to --target-bits only"), r[1]);
        r = run(1, "demo", "--min-bits", "2");
        Assert.assertTrue(r[1].contains("--min-bits applies to --target-bits only"), r[1]);
        r = run(1, "zoo", "--min-bits", "2");
        Assert.assertTrue(r[1].contains("--min-bits applies to --target-bits only"), r[1]);
        r = run(1, "bert", "compress", "--target-bits", "2.3", "--min-bits", "9");
        Assert.assertTrue(r[1].contains("--min-bits must be 1 to 8, got 9"), r[1]);
        r = run(2, "demo", "--mapping", "magic");
        Assert.assertTrue(r[1].contains("proximal, ste, soft, frozen or neighbours"), r[1]);
        r = run(2, "bert", "compress", "--mapping", "magic");
        Assert.assertTrue(r[1].contains("proximal, ste, soft, frozen or neighbours"), r[1]);
        r = run(1, "demo", "--mapping", "neighbours", "--end-to-end");
        Assert.assertTrue(r[1].contains("does not apply to --end-to-end"), r[1]);
        r = run(1, "inspect", "no-such-directory");
        Assert.assertTrue(r[1].contains("not a directory"), r[1]);
        Assert.assertEquals(run(2, "frobnicate")[1].strip().lines().count(), 1);
        run(2);
    }

    /** Refused before any data is fetched or any model trained: the cache directory stays empty. */
    @Test
    public void outputsThatAreNotOursAreRefusedBeforeAnyWork() throws Exception {
        Path root = Files.createTempDirectory("jlcm-cli-out");
        Path cache = Files.createDirectories(root.resolve("cache"));
        Path thesis = Files.createDirectories(root.resolve("thesis"));
        Files.writeString(thesis.resolve("thesis.txt"), "four years of work");
        Files.createDirectories(thesis.resolve("sub"));
        Path file = Files.writeString(root.resolve("some-file.txt"), "keep me");

        for (String command : new String[] {"demo", "bert compress"}) {
            String[] words = (command + " --out " + thesis + " --overwrite --cache " + cache).split(" ");
            String[] r = run(1, words);
            Assert.assertTrue(r[1].contains("is not a model directory written by djl-jlcm"), r[1]);
            Assert.assertTrue(r[1].contains("thesis.txt"), r[1]);
            r = run(1, (command + " --out " + file + " --cache " + cache).split(" "));
            Assert.assertTrue(r[1].contains("exists and is not a directory"), r[1]);
        }
        Assert.assertEquals(Files.readString(thesis.resolve("thesis.txt")), "four years of work");
        Assert.assertTrue(Files.isDirectory(thesis.resolve("sub")));
        Assert.assertEquals(Files.readString(file), "keep me");
        try (var files = Files.list(cache)) {
            Assert.assertEquals(files.count(), 0, "nothing was fetched");
        }

        String[] r = run(1, "inspect", thesis.toString());
        Assert.assertTrue(r[1].contains("is not a model directory: it holds no jlcm.json and no .params file"), r[1]);
    }
}
