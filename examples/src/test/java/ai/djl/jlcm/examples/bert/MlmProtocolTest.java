package ai.djl.jlcm.examples.bert;

import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.testng.Assert;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

public class MlmProtocolTest {

    /** Files and the word each one is written with. */
    private static final String[][] FILES = {
        {"ca01", "alpha"}, {"ca02", "beta"}, {"ca03", "gamma"}, {"cb01", "delta"}, {"cb02", "epsilon"},
    };

    private Path dir;
    private BertTokens tokens;
    private BrownCorpus corpus;

    @BeforeMethod
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("protocol-test");
        List<String> vocab = new ArrayList<>(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", ".", "\""));
        Path brown = dir.resolve("brown");
        Files.createDirectories(brown);
        for (String[] f : FILES) {
            vocab.add(f[1]);
            StringBuilder sb = new StringBuilder("\n\n");
            // 200 sentences of 4 tokens: "The alpha `` . '' -> the alpha " .
            for (int i = 0; i < 200; i++) {
                sb.append("\tThe/at ").append(f[1]).append("/nn ``/`` ./.\n\n");
            }
            Files.writeString(brown.resolve(f[0]), sb, StandardCharsets.ISO_8859_1);
        }
        Files.writeString(brown.resolve("README"), "not a corpus file");
        tokens = BertTokensTest.tokens(dir, vocab);
        corpus = BrownCorpus.of(brown);
    }

    @AfterMethod
    public void tearDown() throws IOException {
        RegistryFetcher.deleteRecursively(dir);
    }

    @Test
    public void readsTaggedSentences() throws IOException {
        Assert.assertEquals(corpus.files(), List.of("ca01", "ca02", "ca03", "cb01", "cb02"));
        Assert.assertEquals(corpus.files('b'), List.of("cb01", "cb02"));
        List<String> s = corpus.sentences("ca01");
        Assert.assertEquals(s.size(), 200);
        Assert.assertEquals(s.get(0), "The alpha \" .");
        Assert.assertEquals(
                BrownCorpus.sentenceText("\tAtlanta's/np$ ``/`` over-all/jj ''/'' 1/2/cd ./."),
                "Atlanta's \" over-all \" 1/2 .");
        Assert.assertEquals(BrownCorpus.sentenceText("   "), "");
    }

    @Test
    public void cutsWindowsAtSentenceStarts() {
        List<int[]> sentences = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            int[] s = new int[3];
            Arrays.fill(s, i);
            sentences.add(s);
        }
        // 30 tokens, windows of 5: start at sentence 0 (tokens 0-4), then at sentence 2 (6-10),
        // sentence 4 (12-16), 6 (18-22), 8 (24-28); the rest is too short
        List<int[]> w = MlmProtocol.windows(sentences, 5);
        Assert.assertEquals(w.size(), 5);
        Assert.assertEquals(w.get(0), new int[] {0, 0, 0, 1, 1});
        Assert.assertEquals(w.get(1), new int[] {2, 2, 2, 3, 3});
        Assert.assertEquals(w.get(4), new int[] {8, 8, 8, 9, 9});
        // a window ending exactly at a sentence end continues with the next sentence
        Assert.assertEquals(MlmProtocol.windows(sentences, 6).get(1), new int[] {2, 2, 2, 3, 3, 3});
        // one long sentence
        Assert.assertEquals(MlmProtocol.windows(List.of(new int[12]), 5).size(), 1);
        Assert.assertTrue(MlmProtocol.windows(List.of(new int[4]), 5).isEmpty());
    }

    @Test
    public void splitsAreDisjointAndRoundRobin() throws IOException {
        // 800 tokens per file: windows start at tokens 0, 128, ..., 640: 6 per file
        List<MlmProtocol.Sequence> eval = MlmProtocol.brown(corpus, tokens, MlmProtocol.Split.EVALUATION, 18);
        Assert.assertEquals(eval.get(0).source(), "ca01:0");
        Assert.assertEquals(eval.get(1).source(), "cb01:0");
        Assert.assertEquals(eval.get(2).source(), "ca01:1");
        Assert.assertEquals(eval.get(11).source(), "cb01:5");
        Assert.assertEquals(eval.get(12).source(), "ca03:0"); // genre b is exhausted, a goes on
        Assert.assertEquals(eval.get(17).source(), "ca03:5");
        Set<String> evalWords = words(eval);
        Assert.assertEquals(evalWords, Set.of("the", ".", "\"", "alpha", "gamma", "delta"));
        for (MlmProtocol.Sequence s : eval) {
            Assert.assertEquals(s.tokens().length, MlmProtocol.CONTENT_LENGTH);
            Assert.assertEquals(tokens.token(s.tokens()[0]), "the"); // starts a sentence
        }
        List<MlmProtocol.Sequence> cal = MlmProtocol.brown(corpus, tokens, MlmProtocol.Split.CALIBRATION, 12);
        Assert.assertEquals(words(cal), Set.of("the", ".", "\"", "beta", "epsilon"));
        IllegalArgumentException e =
                Assert.expectThrows(
                        IllegalArgumentException.class,
                        () -> MlmProtocol.brown(corpus, tokens, MlmProtocol.Split.CALIBRATION, 13));
        Assert.assertTrue(e.getMessage().contains("holds only 12 sequences"), e.getMessage());
        Assert.assertTrue(MlmProtocol.Split.EVALUATION.contains("cr09"));
        Assert.assertFalse(MlmProtocol.Split.EVALUATION.contains("cr10"));
    }

    private Set<String> words(List<MlmProtocol.Sequence> seqs) {
        Set<String> w = new HashSet<>();
        for (MlmProtocol.Sequence s : seqs) {
            for (int id : s.tokens()) {
                w.add(tokens.token(id));
            }
        }
        return w;
    }

    @Test
    public void masksEighteenOfEachSequenceReproducibly() throws IOException {
        List<MlmProtocol.Sequence> eval = MlmProtocol.brown(corpus, tokens, MlmProtocol.Split.EVALUATION, 6);
        List<MlmProtocol.MaskedSequence> masked = MlmProtocol.mask(eval, tokens, MlmProtocol.EVALUATION_SEED);
        Assert.assertEquals(masked.size(), 6);
        for (int k = 0; k < 6; k++) {
            MlmProtocol.MaskedSequence m = masked.get(k);
            Assert.assertEquals(m.inputIds().length, 128);
            Assert.assertEquals(m.inputIds()[0], tokens.clsId());
            Assert.assertEquals(m.inputIds()[127], tokens.sepId());
            Assert.assertEquals(m.positions().length, 18);
            Assert.assertEquals(new HashSet<>(Arrays.stream(m.positions()).boxed().toList()).size(), 18);
            int masks = 0;
            for (int i = 0; i < 128; i++) {
                if (m.inputIds()[i] == tokens.maskId()) {
                    masks++;
                }
            }
            Assert.assertEquals(masks, 18);
            for (int i = 0; i < 18; i++) {
                int p = m.positions()[i];
                Assert.assertTrue(p >= 1 && p <= 126, "position " + p);
                Assert.assertEquals(m.labels()[i], eval.get(k).tokens()[p - 1]);
                Assert.assertEquals(m.inputIds()[p], tokens.maskId());
                if (i > 0) {
                    Assert.assertTrue(p > m.positions()[i - 1]);
                }
            }
        }
        Assert.assertEquals(masked.get(3).positions(), MlmProtocol.maskedPositions(126, 3, MlmProtocol.EVALUATION_SEED));
        Assert.assertFalse(Arrays.equals(masked.get(3).positions(), masked.get(4).positions()));
        Assert.assertFalse(
                Arrays.equals(
                        MlmProtocol.maskedPositions(126, 3, MlmProtocol.EVALUATION_SEED),
                        MlmProtocol.maskedPositions(126, 3, MlmProtocol.CALIBRATION_SEED)));
        Assert.assertEquals(MlmProtocol.maskedPositions(10, 0, 1).length, 1);
    }

    @Test
    public void buildsModelInputs() throws IOException {
        List<MlmProtocol.MaskedSequence> masked =
                MlmProtocol.mask(
                        MlmProtocol.brown(corpus, tokens, MlmProtocol.Split.CALIBRATION, 5),
                        tokens,
                        MlmProtocol.CALIBRATION_SEED);
        try (NDManager m = NDManager.newBaseManager()) {
            List<NDList> batches = MlmEvaluation.batches(m, masked, 2);
            Assert.assertEquals(batches.size(), 3);
            NDList first = batches.get(0);
            Assert.assertEquals(first.size(), 3);
            Assert.assertEquals(first.get(0).getShape(), new Shape(2, 128));
            Assert.assertEquals(first.get(0).getDataType(), DataType.INT64);
            Assert.assertEquals(first.get(0).getLong(1, 0), (long) masked.get(1).inputIds()[0]);
            Assert.assertEquals(first.get(1).sum().getLong(), 0L);
            Assert.assertEquals(first.get(2).sum().getLong(), 256L);
            Assert.assertEquals(batches.get(2).get(0).getShape(), new Shape(1, 128));
            NDList withPositions = MlmEvaluation.inputs(m, masked.subList(0, 2), true);
            Assert.assertEquals(withPositions.get(3).getShape(), new Shape(2, 18));
        }
    }

    @Test
    public void cutsPlainText() throws IOException {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            lines.add("The alpha.");
            lines.add("   ");
        }
        List<MlmProtocol.Sequence> seqs = MlmProtocol.text(lines, tokens, 10, "t.txt");
        Assert.assertEquals(seqs.size(), 2); // 300 tokens: windows at 0 and 126
        Assert.assertEquals(seqs.get(1).source(), "t.txt:1");
        Assert.assertEquals(MlmProtocol.text(lines, tokens, 1, "t.txt").size(), 1);
    }
}
