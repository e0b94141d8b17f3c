package ai.djl.jlcm.export;

import ai.djl.MalformedModelException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 of files, and checks of a file against an expected size and digest. */
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
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        byte[] buf = new byte[1 << 16];
        try (InputStream is = Files.newInputStream(file)) {
            for (int n; (n = is.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
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
