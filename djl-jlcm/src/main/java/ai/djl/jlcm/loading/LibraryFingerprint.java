package ai.djl.jlcm.loading;

import ai.djl.jlcm.export.Digests;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.security.MessageDigest;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Identifies the code of this library for cache keys: its version and the SHA-256 of its jar (or of
 * its class files, when it runs from a classes directory), so that any change of the code, a
 * snapshot rebuilt without a version change included, makes older cache entries stale.
 */
final class LibraryFingerprint {

    private static volatile String value;

    private LibraryFingerprint() {}

    /**
     * Returns the fingerprint, computed once per class loader.
     *
     * @return {@code <version> sha256:<hex>}
     */
    static String get() {
        String v = value;
        if (v == null) {
            v = compute();
            value = v;
        }
        return v;
    }

    private static String compute() {
        Package p = LibraryFingerprint.class.getPackage();
        String version = p == null || p.getImplementationVersion() == null ? "unversioned" : p.getImplementationVersion();
        CodeSource source = LibraryFingerprint.class.getProtectionDomain().getCodeSource();
        if (source == null || source.getLocation() == null) {
            return version + " code-unknown";
        }
        try {
            Path location = Path.of(source.getLocation().toURI());
            String sha;
            if (Files.isDirectory(location)) {
                MessageDigest md = Digests.newSha256();
                List<Path> classes;
                try (Stream<Path> walk = Files.walk(location.resolve("ai/djl/jlcm"))) {
                    classes = walk.filter(f -> f.toString().endsWith(".class")).sorted().collect(Collectors.toList());
                }
                for (Path c : classes) {
                    md.update(location.relativize(c).toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    md.update(Files.readAllBytes(c));
                }
                sha = Digests.hex(md.digest());
            } else {
                sha = Digests.sha256(location);
            }
            return version + " sha256:" + sha;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read the djl-jlcm code at " + source.getLocation(), e);
        } catch (URISyntaxException | IllegalArgumentException e) {
            return version + " code-unknown";
        }
    }
}
