package ai.djl.jlcm.examples.bert;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The fixed masked-LM evaluation protocol: which text, how it is cut into sequences, which tokens
 * are masked.
 *
 * <ol>
 *   <li><b>Text.</b> The Brown corpus, split by file: the odd-numbered files of each genre ({@code
 *       ca01, ca03, ...}) are the {@link Split#EVALUATION} split, the even-numbered ones ({@code
 *       ca02, ca04, ...}) the {@link Split#CALIBRATION} split, so the two never share a text. Each
 *       line of a file is a sentence; {@link BrownCorpus#sentenceText(String)} turns it into plain
 *       words.
 *   <li><b>Sequences.</b> Sentences are WordPiece-tokenized ({@link BertTokens}, lower-cased) and
 *       laid end to end within one file. A sequence is the {@value #CONTENT_LENGTH} tokens that
 *       start at a sentence start; the next sequence starts at the first sentence that begins at or
 *       after the end of the previous one (so sequences never overlap and always start a sentence,
 *       and the rest of a sentence cut at the end is skipped); a file's tail shorter than {@value
 *       #CONTENT_LENGTH} tokens is dropped. Framed as {@code [CLS] 126 tokens [SEP]}: {@value
 *       #SEQUENCE_LENGTH} positions, one segment (type ids 0), no padding.
 *   <li><b>Order.</b> Round robin over the 15 genres {@code a b c d e f g h j k l m n p r}: sequence
 *       {@code k} is the next sequence of genre {@code k mod 15}, taken from that genre's files of
 *       the split in file order. The default 60 sequences are thus the first 4 of {@code ca01, cb01,
 *       ..., cr01}: every genre weighs the same.
 *   <li><b>Masking.</b> In sequence {@code k}, {@code floor(0.15 x 126) = 18} of the 126 content
 *       positions (never {@code [CLS]}/{@code [SEP]}) are drawn without replacement by a partial
 *       Fisher-Yates shuffle driven by {@code new SplittableRandom(seed ^ (k * 0x9E3779B97F4A7C15L))}
 *       (evaluation seed {@value #EVALUATION_SEED}); all of them are replaced by {@code [MASK]} at once
 *       and predicted in one forward pass. 60 sequences give 1 080 masked tokens.
 *   <li><b>Metrics</b> ({@link MlmEvaluation}): top-1 accuracy of the true token over all masked
 *       positions, and pseudo-perplexity {@code exp(mean NLL of the true token)}.
 * </ol>
 *
 * <p>Why all-{@code [MASK]} and not BERT's 80/10/10 training corruption: the 10 % of positions left
 * unchanged would be trivially predicted (inflating top-1 and deflating perplexity) and the 10 %
 * random replacements would add noise from a second random draw; with every selected position
 * masked, the metric is exactly "recover the hidden tokens from their context", deterministic, and
 * one forward pass per sequence.
 */
public final class MlmProtocol {

    /** Positions per sequence, {@code [CLS]} and {@code [SEP]} included. */
    public static final int SEQUENCE_LENGTH = 128;

    /** WordPiece tokens of text per sequence. */
    public static final int CONTENT_LENGTH = SEQUENCE_LENGTH - 2;

    /** The fraction of content tokens masked (rounded down). */
    public static final double MASK_FRACTION = 0.15;

    /** The default number of evaluation sequences. */
    public static final int DEFAULT_SEQUENCES = 60;

    /** The masking seed of the evaluation split. */
    public static final long EVALUATION_SEED = 42;

    /** The masking seed of the calibration split. */
    public static final long CALIBRATION_SEED = 4242;

    private MlmProtocol() {}

    /** Which Brown files a split reads. */
    public enum Split {
        /** Odd-numbered files of each genre. */
        EVALUATION,
        /** Even-numbered files of each genre. */
        CALIBRATION;

        /**
         * Returns whether a corpus file belongs to this split.
         *
         * @param file a file name such as {@code ca01}
         * @return whether it does
         */
        public boolean contains(String file) {
            int number = Integer.parseInt(file.substring(2));
            return (number % 2 == 1) == (this == EVALUATION);
        }

        /**
         * Returns the masking seed of this split.
         *
         * @return the seed
         */
        public long seed() {
            return this == EVALUATION ? EVALUATION_SEED : CALIBRATION_SEED;
        }
    }

    /**
     * An unmasked sequence of content tokens.
     *
     * @param tokens the WordPiece ids, without {@code [CLS]}/{@code [SEP]}
     * @param source where it comes from, for example {@code ca01:3} (the fourth sequence of ca01)
     */
    public record Sequence(int[] tokens, String source) {}

    /**
     * A framed, masked sequence.
     *
     * @param inputIds {@code [CLS] tokens [SEP]} with the masked positions set to {@code [MASK]}
     * @param positions the masked positions in {@code inputIds}, ascending
     * @param labels the true ids at those positions
     * @param source where the text comes from
     */
    public record MaskedSequence(int[] inputIds, int[] positions, int[] labels, String source) {}

    /**
     * Returns {@code n} sequences of a Brown split, in protocol order.
     *
     * @param corpus the corpus
     * @param tokens the tokenization
     * @param split the split
     * @param n the number of sequences
     * @return the sequences
     * @throws IOException if a corpus file cannot be read
     * @throws IllegalArgumentException if the split holds fewer than {@code n} sequences
     */
    public static List<Sequence> brown(BrownCorpus corpus, BertTokens tokens, Split split, int n)
            throws IOException {
        if (n < 1) {
            throw new IllegalArgumentException("number of sequences must be positive, got " + n);
        }
        List<GenreStream> streams = new ArrayList<>();
        for (char g : BrownCorpus.GENRES.toCharArray()) {
            List<String> files = new ArrayList<>();
            for (String f : corpus.files(g)) {
                if (split.contains(f)) {
                    files.add(f);
                }
            }
            if (!files.isEmpty()) {
                streams.add(new GenreStream(corpus, tokens, files));
            }
        }
        List<Sequence> out = new ArrayList<>();
        boolean any = true;
        while (out.size() < n && any) {
            any = false;
            for (GenreStream s : streams) {
                if (out.size() >= n) {
                    break;
                }
                Sequence next = s.next();
                if (next != null) {
                    out.add(next);
                    any = true;
                }
            }
        }
        if (out.size() < n) {
            throw new IllegalArgumentException(
                    "the Brown " + split.name().toLowerCase(java.util.Locale.ROOT) + " split holds only "
                            + out.size() + " sequences, " + n + " requested");
        }
        return out;
    }

    /**
     * Returns up to {@code n} sequences of a plain text whose non-blank lines are its sentences (or
     * paragraphs), cut like a Brown file.
     *
     * @param lines the lines
     * @param tokens the tokenization
     * @param n the maximum number of sequences
     * @param source the name used in {@link Sequence#source()}
     * @return the sequences, possibly fewer than {@code n}
     */
    public static List<Sequence> text(List<String> lines, BertTokens tokens, int n, String source) {
        List<int[]> sentences = new ArrayList<>();
        for (String line : lines) {
            if (!line.isBlank()) {
                sentences.add(tokens.encode(line));
            }
        }
        List<Sequence> out = new ArrayList<>();
        List<int[]> w = windows(sentences, CONTENT_LENGTH);
        for (int i = 0; i < w.size() && out.size() < n; i++) {
            out.add(new Sequence(w.get(i), source + ":" + i));
        }
        return out;
    }

    /**
     * Cuts tokenized sentences into non-overlapping windows of {@code length} tokens that start at
     * sentence starts (see the class description).
     *
     * @param sentences the tokenized sentences, in order
     * @param length the window length
     * @return the windows
     */
    public static List<int[]> windows(List<int[]> sentences, int length) {
        int total = 0;
        int[] starts = new int[sentences.size()];
        for (int i = 0; i < sentences.size(); i++) {
            starts[i] = total;
            total += sentences.get(i).length;
        }
        int[] stream = new int[total];
        for (int i = 0; i < sentences.size(); i++) {
            System.arraycopy(sentences.get(i), 0, stream, starts[i], sentences.get(i).length);
        }
        List<int[]> out = new ArrayList<>();
        int s = 0;
        while (s < sentences.size()) {
            if (sentences.get(s).length == 0) {
                s++;
                continue;
            }
            int begin = starts[s];
            if (begin + length > total) {
                break;
            }
            out.add(Arrays.copyOfRange(stream, begin, begin + length));
            int end = begin + length;
            while (s < sentences.size() && starts[s] < end) {
                s++;
            }
        }
        return out;
    }

    /**
     * Masks sequences by the protocol.
     *
     * @param sequences the sequences; sequence {@code k} of the list gets mask draw {@code k}
     * @param tokens the tokenization (for {@code [CLS] [SEP] [MASK]})
     * @param seed the masking seed
     * @return the masked sequences
     */
    public static List<MaskedSequence> mask(List<Sequence> sequences, BertTokens tokens, long seed) {
        List<MaskedSequence> out = new ArrayList<>(sequences.size());
        for (int k = 0; k < sequences.size(); k++) {
            out.add(mask(sequences.get(k), k, tokens, seed));
        }
        return out;
    }

    /**
     * Masks one sequence by the protocol.
     *
     * @param sequence the sequence
     * @param k its index in its list (selects the mask draw)
     * @param tokens the tokenization
     * @param seed the masking seed
     * @return the masked sequence
     */
    public static MaskedSequence mask(Sequence sequence, int k, BertTokens tokens, long seed) {
        int[] framed = tokens.frame(sequence.tokens());
        int[] positions = maskedPositions(sequence.tokens().length, k, seed);
        int[] labels = new int[positions.length];
        int[] input = framed.clone();
        for (int i = 0; i < positions.length; i++) {
            labels[i] = framed[positions[i]];
            input[positions[i]] = tokens.maskId();
        }
        return new MaskedSequence(input, positions, labels, sequence.source());
    }

    /**
     * Draws the masked positions of sequence {@code k}: {@code floor(0.15 x contentLength)} distinct
     * positions among {@code 1..contentLength} (position 0 is {@code [CLS]}).
     *
     * @param contentLength the number of content tokens
     * @param k the sequence index
     * @param seed the seed
     * @return the positions, ascending
     */
    public static int[] maskedPositions(int contentLength, int k, long seed) {
        int count = (int) Math.floor(MASK_FRACTION * contentLength);
        SplittableRandom random = new SplittableRandom(seed ^ (k * 0x9E3779B97F4A7C15L));
        int[] pool = new int[contentLength];
        for (int i = 0; i < contentLength; i++) {
            pool[i] = i + 1;
        }
        for (int i = 0; i < count; i++) {
            int j = i + random.nextInt(contentLength - i);
            int tmp = pool[i];
            pool[i] = pool[j];
            pool[j] = tmp;
        }
        int[] out = Arrays.copyOf(pool, count);
        Arrays.sort(out);
        return out;
    }

    /** Lazily yields the sequences of one genre's files, in file order. */
    private static final class GenreStream {

        private final BrownCorpus corpus;
        private final BertTokens tokens;
        private final List<String> files;
        private int fileIndex;
        private List<int[]> current = List.of();
        private int position;

        GenreStream(BrownCorpus corpus, BertTokens tokens, List<String> files) {
            this.corpus = corpus;
            this.tokens = tokens;
            this.files = files;
        }

        Sequence next() throws IOException {
            while (position >= current.size()) {
                if (fileIndex >= files.size()) {
                    return null;
                }
                List<int[]> sentences = new ArrayList<>();
                for (String s : corpus.sentences(files.get(fileIndex))) {
                    sentences.add(tokens.encode(s));
                }
                current = windows(sentences, CONTENT_LENGTH);
                position = 0;
                fileIndex++;
            }
            String source = files.get(fileIndex - 1) + ":" + position;
            return new Sequence(current.get(position++), source);
        }
    }
}
