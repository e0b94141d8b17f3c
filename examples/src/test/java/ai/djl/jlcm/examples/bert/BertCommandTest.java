package ai.djl.jlcm.examples.bert;

import ai.djl.jlcm.examples.cli.JlcmCli;
import ai.djl.jlcm.examples.data.RegistryFetcher;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

public class BertCommandTest {

    @Test
    public void needsASubcommand() {
        Assert.assertEquals(JlcmCli.run("bert"), 2);
        Assert.assertEquals(JlcmCli.run("bert", "--help"), 0);
        Assert.assertEquals(JlcmCli.run("bert", "evaluate", "--help"), 0);
        Assert.assertEquals(JlcmCli.run("bert", "evaluate", "--no-such-option"), 2);
    }

    @Test
    public void rejectsBadOptionsBeforeFetchingAnything() throws IOException {
        Path cache = Files.createTempDirectory("bert-cli-test");
        try {
            String c = cache.toString();
            Assert.assertEquals(JlcmCli.run("bert", "evaluate", "--cache", c, "--sequences", "0"), 1);
            Assert.assertEquals(JlcmCli.run("bert", "evaluate", "--cache", c, "--batch-size", "0"), 1);
            Assert.assertEquals(JlcmCli.run("bert", "evaluate", "--cache", c, "--gelu", "relu"), 1);
            Assert.assertEquals(JlcmCli.run("bert", "evaluate", "--cache", c, "--model", cache.resolve("none").toString()), 1);
            Path text = Files.writeString(Files.createTempFile("bert-cli-text", ".txt"), "a line\n");
            try {
                String[] err = ai.djl.jlcm.examples.cli.CliRun.run(1, "bert", "evaluate", "--cache", c, "--text", text.toString(), "--moby-dick");
                Assert.assertTrue(err[1].contains("give one"), err[1]);
            } finally {
                Files.delete(text);
            }
            Assert.assertEquals(
                    JlcmCli.run("bert", "evaluate", "--cache", c, "--text", cache.resolve("none.txt").toString()), 1);
            Path thesis = Files.createTempDirectory("bert-export-out");
            Files.writeString(thesis.resolve("thesis.txt"), "keep me");
            try {
                Assert.assertEquals(JlcmCli.run("bert", "export", "--cache", c), 2, "--out is required");
                Assert.assertEquals(JlcmCli.run("bert", "export", "--cache", c, "--out", thesis.toString()), 1);
                Assert.assertEquals(
                        JlcmCli.run("bert", "export", "--cache", c, "--out", thesis.toString(), "--overwrite"), 1);
                Assert.assertEquals(Files.readString(thesis.resolve("thesis.txt")), "keep me");
                Assert.assertEquals(
                        JlcmCli.run("bert", "export", "--cache", c, "--out", cache.resolve("m").toString(), "--gelu", "relu"), 1);
            } finally {
                RegistryFetcher.deleteRecursively(thesis);
            }
            try (var s = Files.list(cache)) {
                Assert.assertEquals(s.count(), 0L, "nothing was fetched");
            }
        } finally {
            RegistryFetcher.deleteRecursively(cache);
        }
    }

    @Test
    public void rejectsBadFineTuningOptionsBeforeFetchingAnything() throws IOException {
        Path cache = Files.createTempDirectory("bert-cli-test");
        try {
            String c = cache.toString();
            String[] err = ai.djl.jlcm.examples.cli.CliRun.run(1, "bert", "compress", "--cache", c, "--method", "kmeans", "--fine-tune-steps", "5");
            Assert.assertTrue(err[1].contains("--fine-tune-steps needs a calibrated method"), err[1]);
            err = ai.djl.jlcm.examples.cli.CliRun.run(1, "bert", "compress", "--cache", c, "--fine-tune-steps", "-1");
            Assert.assertTrue(err[1].contains("--fine-tune-steps must not be negative"), err[1]);
            err = ai.djl.jlcm.examples.cli.CliRun.run(1, "bert", "compress", "--cache", c, "--method", "jlcm", "--fine-tune-steps", "5", "--fine-tune-lr", "0");
            Assert.assertTrue(err[1].contains("--fine-tune-lr must be positive"), err[1]);
            err = ai.djl.jlcm.examples.cli.CliRun.run(
                    1, "bert", "compress", "--cache", c, "--method", "jlcm", "--fine-tune-steps", "5", "--fine-tune-micro-batch", "-2");
            Assert.assertTrue(err[1].contains("--fine-tune-micro-batch not negative"), err[1]);
            try (var s = Files.list(cache)) {
                Assert.assertEquals(s.count(), 0L, "nothing was fetched");
            }
        } finally {
            RegistryFetcher.deleteRecursively(cache);
        }
    }
}
