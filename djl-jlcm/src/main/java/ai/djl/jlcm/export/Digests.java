package ai.djl.jlcm.export;

import ai.djl.MalformedModelException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** The one SHA-256 helper: digests of files, bytes and text, and checks of a file against an expected size and digest. */
public final class Digests {

    private Digests() {}

    /**
     * Returns the SHA-256 of a file as lower-case hex.
     *
     * @param file the file
     * @return the digest
     * @throws IOException if reading fails
     */
    public static String sha256(Path file) throws IOException {
        MessageDigest md = newSha256();
        byte[] buf = new byte[1 << 16];
        try (InputStream is = Files.newInputStream(file)) {
            for (int n; (n = is.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /**
     * Returns the SHA-256 of bytes as lower-case hex.
     *
     * @param bytes the bytes
     * @return the digest
     */
    public static String sha256(byte[] bytes) {
        return hex(newSha256().digest(bytes));
    }

    /**
     * Returns the SHA-256 of a text's UTF-8 bytes as lower-case hex.
     *
     * @param text the text
     * @return the digest
     */
    public static String sha256(String text) {
        return sha256(text.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Returns a new SHA-256 digest, to feed incrementally.
     *
     * @return the digest
     */
    public static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Formats a digest as lower-case hex.
     *
     * @param digest the digest
     * @return the hex text
     */
    public static String hex(byte[] digest) {
        return HexFormat.of().formatHex(digest);
    }

    /**
     * Checks a file's size and SHA-256.
     *
     * @param file the file
     * @param bytes the expected size
     * @param sha256 the expected digest
     * @throws IOException if the file cannot be read
     * @throws MalformedModelException if the file is missing, truncated or altered
     */
    public static void checkFile(Path file, long bytes, String sha256)
            throws IOException, MalformedModelException {
        if (!Files.isRegularFile(file)) {
            throw new MalformedModelException("Missing parameter file " + file);
        }
        long size = Files.size(file);
        if (size != bytes) {
            throw new MalformedModelException(
                    file + " has " + size + " bytes, the manifest says " + bytes + " (truncated or replaced)");
        }
        String actual = sha256(file);
        if (!actual.equalsIgnoreCase(sha256)) {
            throw new MalformedModelException(
                    file + " is corrupted: SHA-256 " + actual + " differs from the manifest's " + sha256);
        }
    }
}
