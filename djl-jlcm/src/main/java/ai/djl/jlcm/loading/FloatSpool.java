package ai.djl.jlcm.loading;

import ai.djl.jlcm.export.Digests;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The float parameter stream DJL hands to a compress-on-load block, copied to a file of the cache
 * directory while it is hashed: the cache key needs the whole stream's SHA-256 before it is known
 * whether the float parameters are needed at all, and on a cache hit they never become arrays.
 *
 * <p>The file is {@code .float-<pid>-<uuid>.spool}; {@link #close()} deletes it, and a spool left by a
 * killed process (its pid no longer alive) is deleted by the next spool in the same directory.
 */
final class FloatSpool implements AutoCloseable {

    private static final Logger logger = LoggerFactory.getLogger(FloatSpool.class);
    private static final Pattern NAME = Pattern.compile("\\.float-(\\d+)-[0-9a-f-]{36}\\.spool");

    private final Path file;
    private final String sha256;

    private FloatSpool(Path file, String sha256) {
        this.file = file;
        this.sha256 = sha256;
    }

    /**
     * Copies a stream to its end into a new spool file of a directory, hashing it.
     *
     * @param is the stream
     * @param dir the directory (the cache directory: one file system with the entries)
     * @return the spool
     * @throws IOException if reading or writing fails; no file is then left
     */
    static FloatSpool of(InputStream is, Path dir) throws IOException {
        deleteStale(dir);
        Path file = dir.resolve(".float-" + ProcessHandle.current().pid() + "-" + UUID.randomUUID() + ".spool");
        MessageDigest md = Digests.newSha256();
        try (OutputStream out = new DigestOutputStream(Files.newOutputStream(file), md)) {
            is.transferTo(out);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(file);
            throw e;
        }
        return new FloatSpool(file, Digests.hex(md.digest()));
    }

    /**
     * Returns the SHA-256 of the stream.
     *
     * @return lower-case hex
     */
    String sha256() {
        return sha256;
    }

    /**
     * Opens the spooled parameters for reading.
     *
     * @return a new stream; the caller closes it
     * @throws IOException if the file cannot be opened
     */
    DataInputStream open() throws IOException {
        return new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16));
    }

    /** Deletes the file. */
    @Override
    public void close() throws IOException {
        Files.deleteIfExists(file);
    }

    private static void deleteStale(Path dir) throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, ".float-*.spool")) {
            for (Path f : files) {
                Matcher m = NAME.matcher(f.getFileName().toString());
                if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()) {
                    logger.info("Deleting {}, left by a process that no longer runs", f);
                    Files.deleteIfExists(f);
                }
            }
        }
    }
}
