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
}
