package ai.djl.jlcm.examples.llm;

import ai.djl.Model;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.examples.cli.CliRun;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** {@code llm train}'s training, cache and checkpoint on a tiny tied decoder, and its option checks. */
public class LlmTrainingTest {

    private static final LlamaConfig TINY = new LlamaConfig(32, 64, 1, 2, 2, 256, 1e-5f, 10000, 16, true);

    /** A repetitive byte text a tiny decoder learns within a few steps. */
    private static int[] text() {
        return LmText.stream(List.of("the cat sat on the mat.", "a dog sat on a log.", "the cat and the dog sat."
                .repeat(4)));
    }

    private static LlmTraining.Recipe recipe(long seed) {
        return new LlmTraining.Recipe(TINY, 20, 4, 1e-2f, seed);
    }

    @Test
    public void trainingLowersTheLossAndIsSeeded() {
        float[][] losses = new float[2][];
        for (int run = 0; run < 2; run++) {
            try (Model model = Model.newInstance("llama", "PyTorch")) {
                losses[run] = LlmTraining.train(model, recipe(7), text()).losses();
            }
        }
        float[] l = losses[0];
        Assert.assertTrue(l[l.length - 1] < 0.7 * l[0], "loss " + l[0] + " -> " + l[l.length - 1]);
        Assert.assertEquals(losses[1], losses[0], 1e-5f, "the same seed gives the same loss curve");
    }

    @Test
    public void trainedCheckpointIsCachedAndLoadsBack() throws Exception {
        Path cache = Files.createTempDirectory("jlcm-llm-train");
        AtomicInteger reads = new AtomicInteger();
        LlmTraining.TokenSource source = () -> {
            reads.incrementAndGet();
            return text();
        };
        Path dir = LlmTraining.trainOrLoad(cache, recipe(3), source);
        Assert.assertEquals(dir, cache.resolve("models").resolve(recipe(3).cacheName()));
        Assert.assertEquals(LlmTraining.trainOrLoad(cache, recipe(3), source), dir);
        Assert.assertEquals(reads.get(), 1, "the second call reuses the cache without reading the text");
        try (Model model = LlamaCheckpoint.loadModel(dir)) {
            Assert.assertEquals(((LlamaModel) model.getBlock()).getConfig(), TINY);
            LlmPerplexityCommand.Score s = LlmPerplexityCommand.score(
                    (LlamaModel) model.getBlock(), model.getNDManager(), LmText.spread(text(), 4, 16), 16, "text");
            Assert.assertTrue(s.perplexity() < 40, "trained below a uniform guess over 256 bytes: " + s.perplexity());
        }
    }

    @Test
    public void jlcmCompressesTheTiedDecoderStageByStage() {
        try (Model model = Model.newInstance("llama", "PyTorch"); NDManager m = model.getNDManager().newSubManager()) {
            LlmTraining.train(model, new LlmTraining.Recipe(TINY, 1, 2, 1e-2f, 1), text());
            CompressionPlan plan = CompressionPlan.of(LayerSettings.builder().optMethod(Method.JLCM).optBits(2).optGroups(2)
                    .optMode(CodebookMode.MULTI).optSteps(2).build());
            int[] ids = LmText.spread(text(), 4, 16);
            Jlcm.builder().optPlan(plan).build().compress(model, List.of(new NDList(m.create(ids, new Shape(4, 16)))));
            ModelSize size = ModelSize.of(model.getBlock());
            Assert.assertEquals(size.compressedLayers(), 8, "7 projections and the tied token table");
            Assert.assertTrue(size.bitsPerWeight() > 2 && size.bitsPerWeight() < 4, "bits/weight " + size.bitsPerWeight());
        }
    }

    @Test
    public void spreadTakesEvenlySpacedWindows() {
        int[] stream = new int[10];
        for (int i = 0; i < stream.length; i++) {
            stream[i] = i;
        }
        Assert.assertEquals(LmText.spread(stream, 3, 2), new int[] {0, 1, 4, 5, 8, 9});
        Assert.assertEquals(LmText.stream(List.of(" é ", "", "b")), new int[] {0xc3, 0xa9, '\n', 'b', '\n'});
        Assert.assertThrows(IllegalArgumentException.class, () -> LmText.spread(stream, 1, 11));
    }

    @Test
    public void badOptionsAreRefusedBeforeAnyFetch() throws Exception {
        Path cache = Files.createTempDirectory("jlcm-llm-options").resolve("cache");
        String c = cache.toString();
        String[] r = CliRun.run(1, "llm", "train", "--cache", c, "--hidden", "30", "--heads", "4");
        Assert.assertTrue(r[1].contains("hidden_size 30"), r[1]);
        r = CliRun.run(1, "llm", "train", "--cache", c, "--steps", "0");
        Assert.assertTrue(r[1].contains("must be positive"), r[1]);
        r = CliRun.run(1, "llm", "table", "--cache", c, "--methods", "rtn,gptq");
        Assert.assertTrue(r[1].contains("unknown method 'gptq'"), r[1]);
        r = CliRun.run(1, "llm", "table", "--cache", c, "--bits", "2,9");
        Assert.assertTrue(r[1].contains("--bits must be in 1..8"), r[1]);
        r = CliRun.run(1, "llm", "table", "--cache", c, "--eval-windows", "0");
        Assert.assertTrue(r[1].contains("--eval-windows"), r[1]);
        Assert.assertFalse(Files.exists(cache), "nothing was fetched or cached");
    }
}
