package ai.djl.jlcm.examples.bert;

import ai.djl.modality.nlp.DefaultVocabulary;
import ai.djl.modality.nlp.Vocabulary;
import ai.djl.modality.nlp.bert.BertFullTokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * WordPiece tokenization with DJL's {@link BertFullTokenizer} (lower-casing, accent stripping,
 * punctuation splitting, greedy longest-match WordPiece) over a BERT {@code vocab.txt}, where line
 * {@code i} is the token of id {@code i}.
 *
 * <p>The special tokens {@code [CLS] [SEP] [MASK] [PAD] [UNK]} written literally in a text are kept
 * as single tokens (the plain tokenizer would split them into {@code [ mask ]}).
 */
public final class BertTokens {

    /** The classification token. */
    public static final String CLS = "[CLS]";
    /** The separator token. */
    public static final String SEP = "[SEP]";
    /** The mask token. */
    public static final String MASK = "[MASK]";
    /** The padding token. */
    public static final String PAD = "[PAD]";
    /** The unknown token. */
    public static final String UNK = "[UNK]";

    private static final Pattern SPECIAL = Pattern.compile("\\[(CLS|SEP|MASK|PAD|UNK)\\]");

    private final List<String> tokens;
    private final Vocabulary vocabulary;
    private final BertFullTokenizer tokenizer;
    private final int cls;
    private final int sep;
    private final int mask;
    private final int pad;
    private final int unk;

    private BertTokens(List<String> tokens) {
        this.tokens = List.copyOf(tokens);
        vocabulary = new DefaultVocabulary(DefaultVocabulary.builder().add(tokens).optUnknownToken(UNK));
        tokenizer = new BertFullTokenizer(vocabulary, true);
        cls = special(CLS);
        sep = special(SEP);
        mask = special(MASK);
        pad = special(PAD);
        unk = special(UNK);
    }

    /**
     * Reads a {@code vocab.txt} (UTF-8, one token per line).
     *
     * @param vocabFile the vocabulary file
     * @return the tokenization
     * @throws IOException if the file cannot be read, holds a duplicate token or lacks a special
     *     token
     */
    public static BertTokens load(Path vocabFile) throws IOException {
        List<String> lines = Files.readAllLines(vocabFile, StandardCharsets.UTF_8);
        while (!lines.isEmpty() && lines.get(lines.size() - 1).isEmpty()) {
            lines.remove(lines.size() - 1);
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < lines.size(); i++) {
            if (!seen.add(lines.get(i))) {
                throw new IOException(
                        "Vocabulary " + vocabFile + " repeats token '" + lines.get(i) + "' at line " + (i + 1));
            }
        }
        try {
            return new BertTokens(lines);
        } catch (IllegalArgumentException e) {
            throw new IOException("Vocabulary " + vocabFile + ": " + e.getMessage(), e);
        }
    }

    private int special(String token) {
        int i = tokens.indexOf(token);
        if (i < 0) {
            throw new IllegalArgumentException("the vocabulary lacks " + token);
        }
        if (vocabulary.getIndex(token) != i) {
            throw new IllegalStateException("vocabulary index of " + token + " differs from its line");
        }
        return i;
    }

    /**
     * Returns DJL's tokenizer.
     *
     * @return the tokenizer
     */
    public BertFullTokenizer getTokenizer() {
        return tokenizer;
    }

    /**
     * Returns DJL's vocabulary.
     *
     * @return the vocabulary
     */
    public Vocabulary getVocabulary() {
        return vocabulary;
    }

    /**
     * Returns the vocabulary size.
     *
     * @return the number of tokens
     */
    public int size() {
        return tokens.size();
    }

    /**
     * Splits a text into WordPiece tokens (lower-cased); literal special tokens stay whole.
     *
     * @param text the text
     * @return the tokens
     */
    public List<String> tokenize(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = SPECIAL.matcher(text);
        int from = 0;
        while (m.find()) {
            out.addAll(tokenizer.tokenize(text.substring(from, m.start())));
            out.add(m.group());
            from = m.end();
        }
        out.addAll(tokenizer.tokenize(text.substring(from)));
        return out;
    }

    /**
     * Returns the ids of tokens.
     *
     * @param wordPieces the tokens
     * @return their ids ({@code [UNK]}'s for unknown ones)
     */
    public int[] ids(List<String> wordPieces) {
        int[] ids = new int[wordPieces.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (int) vocabulary.getIndex(wordPieces.get(i));
        }
        return ids;
    }

    /**
     * Tokenizes a text into ids.
     *
     * @param text the text
     * @return the ids, without {@code [CLS]}/{@code [SEP]}
     */
    public int[] encode(String text) {
        return ids(tokenize(text));
    }

    /**
     * Returns {@code [CLS] ids [SEP]}.
     *
     * @param ids the content ids
     * @return the framed ids
     */
    public int[] frame(int[] ids) {
        int[] out = new int[ids.length + 2];
        out[0] = cls;
        System.arraycopy(ids, 0, out, 1, ids.length);
        out[out.length - 1] = sep;
        return out;
    }

    /**
     * Returns the token of an id.
     *
     * @param id the id
     * @return the token
     */
    public String token(int id) {
        return tokens.get(id);
    }

    /**
     * Returns the id of {@code [CLS]}.
     *
     * @return the id
     */
    public int clsId() {
        return cls;
    }

    /**
     * Returns the id of {@code [SEP]}.
     *
     * @return the id
     */
    public int sepId() {
        return sep;
    }

    /**
     * Returns the id of {@code [MASK]}.
     *
     * @return the id
     */
    public int maskId() {
        return mask;
    }

    /**
     * Returns the id of {@code [PAD]}.
     *
     * @return the id
     */
    public int padId() {
        return pad;
    }

    /**
     * Returns the id of {@code [UNK]}.
     *
     * @return the id
     */
    public int unkId() {
        return unk;
    }
}
