package ai.djl.jlcm.nn;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.translate.NoopTranslator;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/** Held arrays against parameter changes (training, reloading) and concurrent passes. */
public class CodebookWeightStateTest {

    private static final Shape SHAPE = new Shape(8, 16);

    private static float[] infer(Block block, NDManager m, NDArray x) {
        return block.forward(new ParameterStore(m, false), new NDList(x), false).singletonOrThrow().toFloatArray();
    }

    /** The dense reference: Linear's forward on the weight read back from the block's parameters. */
    private static float[] reference(CodebookLinear block, NDManager m, NDArray x, NDArray bias) {
        NDArray w = m.create(block.getCodebookWeight().read().decode(), SHAPE);
        return Linear.linear(x, w, bias).singletonOrThrow().toFloatArray();
    }

    private static CodebookLinear block(CompressedWeight weight, NDArray bias, MemoryMode mode, NDManager m) {
        return CodebookLinear.codebookBuilder()
                .setWeight(CodebookWeight.of(weight, m))
                .optBiasArray(bias)
                .optInputShape(new Shape(4, SHAPE.get(1)))
                .optMemoryMode(mode)
                .build();
    }

    /** Asserts equality within 1e-5 (float16 cache: 2^-9) of the largest expected magnitude. */
    private static void assertClose(float[] got, float[] expected, MemoryMode mode, String what) {
        float max = 0;
        for (float e : expected) {
            max = Math.max(max, Math.abs(e));
        }
        float rel = mode == MemoryMode.CACHE_FP16 ? 1f / 512 : 1e-5f;
        Assert.assertEquals(got, expected, rel * (1 + max), what);
    }

    @Test
    public void aLearnerDrivesTheBlockUntilReleased() {
        for (MemoryMode mode : MemoryMode.values()) {
            try (NDManager m = NDManager.newBaseManager()) {
                NDArray bias = m.randomNormal(new Shape(8));
                CodebookLinear block = block(CodebookBlocksTest.random(SHAPE, 2, CodebookMode.SCALED, 2, 7), bias, mode, m);
                NDArray x = m.randomNormal(new Shape(3, 16));
                float[] stored = infer(block, m, x); // and builds the held array
                NDArray learned = m.randomNormal(SHAPE);
                learned.setRequiresGradient(true);
                block.getCodebookWeight().learnWith(() -> learned.mul(m.full(new Shape(), 2f)));
                for (boolean training : new boolean[] {false, true}) {
                    try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                        NDArray y = block.forward(new ParameterStore(m, false), new NDList(x), training).singletonOrThrow();
                        NDArray expected = Linear.linear(x, learned.stopGradient().mul(2f), bias).singletonOrThrow();
                        assertClose(y.toFloatArray(), expected.toFloatArray(), MemoryMode.CACHE_FP32, mode + " driven, training " + training);
                        gc.backward(y.sum());
                    }
                    // d sum(x·(2L)ᵀ)/dL[o, n] = 2·Σ_b x[b, n]
                    float[] perInput = x.sum(new int[] {0}).mul(2f).toFloatArray();
                    float[] grad = learned.getGradient().toFloatArray();
                    for (int i = 0; i < grad.length; i++) {
                        Assert.assertEquals(grad[i], perInput[i % 16], 1e-4, mode + " gradient " + i);
                    }
                    learned.getGradient().subi(learned.getGradient());
                }
                float[] rows = block.getCodebookWeight().decodeRows(m, m.create(new long[] {5, 1}), false).toFloatArray();
                float[] all = learned.stopGradient().mul(2f).toFloatArray();
                for (int n = 0; n < 16; n++) {
                    Assert.assertEquals(rows[n], all[5 * 16 + n], 1e-6, mode + " looked-up row");
                    Assert.assertEquals(rows[16 + n], all[16 + n], 1e-6, mode + " looked-up row");
                }
                block.getCodebookWeight().learnWith(null);
                assertClose(infer(block, m, x), stored, mode, mode + " released");
                assertClose(infer(block, m, x), reference(block, m, x, bias), mode, mode + " released, dense reference");
            }
        }
    }

    @Test
    public void inferenceAfterTrainingUsesTheTrainedCodebook() {
        for (MemoryMode mode : MemoryMode.values()) {
            try (NDManager m = NDManager.newBaseManager()) {
                NDArray bias = m.zeros(new Shape(8));
                CodebookLinear block = block(CodebookBlocksTest.random(SHAPE, 3, CodebookMode.MULTI, 2, 5), bias, mode, m);
                NDArray x = m.randomNormal(new Shape(4, 16));
                float[] before = infer(block, m, x); // builds the held array
                NDArray codebook = block.getDirectParameters().get("codebook").getArray();
                codebook.setRequiresGradient(true);
                for (int round = 0; round < 2; round++) {
                    // train: one gradient step on the codebook, in place, outside the collector
                    try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                        NDArray y = block.forward(new ParameterStore(m, false), new NDList(x), true).singletonOrThrow();
                        gc.backward(y.sum());
                    }
                    codebook.subi(codebook.getGradient().mul(0.5f));
                    codebook.getGradient().subi(codebook.getGradient());
                    // infer
                    float[] got = infer(block, m, x);
                    assertClose(got, reference(block, m, x, bias), mode, mode + " round " + round);
                }
                Assert.assertNotEquals(infer(block, m, x), before, mode + ": training changed the output");
            }
        }
    }

    @Test
    public void loadingParametersReplacesTheHeldArrays() throws Exception {
        for (MemoryMode mode : MemoryMode.values()) {
            try (NDManager m = NDManager.newBaseManager()) {
                NDArray bias = m.zeros(new Shape(8));
                CodebookLinear a = block(m, 1, mode, bias);
                CodebookLinear b = block(m, 2, MemoryMode.PACKED, bias);
                NDArray x = m.randomNormal(new Shape(4, 16));
                float[] fromA = infer(a, m, x); // builds a's held array
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                b.saveParameters(new DataOutputStream(bytes));
                a.loadParameters(m, new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));
                float[] got = infer(a, m, x);
                assertClose(got, infer(b, m, x), mode, mode.toString());
                Assert.assertNotEquals(got, fromA, mode + ": the two weights differ");
            }
        }
    }

    private static CodebookLinear block(NDManager m, long seed, MemoryMode mode, NDArray bias) {
        return block(CodebookBlocksTest.random(SHAPE, 3, CodebookMode.SCALED, 2, seed), bias, mode, m);
    }

    @Test
    public void predictorsOnSeveralThreadsMatchASingleThreadedReference() throws Exception {
        int threads = 4;
        int inputs = 12;
        try (Model model = Model.newInstance("threads")) {
            NDManager m = model.getNDManager();
            CodebookConvolution conv =
                    CodebookConvolution.builder()
                            .setKernelShape(new Shape(3, 3))
                            .setFilters(6)
                            .optPadding(new Shape(1, 1))
                            .setWeight(CodebookWeight.of(CodebookBlocksTest.random(new Shape(6, 3, 3, 3), 2, CodebookMode.MULTI, 3, 1), m))
                            .optBiasArray(m.randomNormal(new Shape(6)))
                            .build();
            CodebookLinear linear =
                    CodebookLinear.codebookBuilder()
                            .setWeight(CodebookWeight.of(CodebookBlocksTest.random(new Shape(10, 6 * 8 * 8), 3, CodebookMode.SCALED, 2, 2), m))
                            .optBiasArray(m.randomNormal(new Shape(10)))
                            .build();
            SequentialBlock net = new SequentialBlock().add(conv).add(Blocks.batchFlattenBlock()).add(linear);
            model.setBlock(net);
            List<float[]> xs = new ArrayList<>();
            for (int i = 0; i < inputs; i++) {
                xs.add(m.randomNormal(new Shape(2, 3, 8, 8)).toFloatArray());
            }
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                for (MemoryMode mode : MemoryMode.values()) {
                    for (CodebookBlock b : new CodebookBlock[] {conv, linear}) {
                        b.getCodebookWeight().setMemoryMode(mode);
                        b.getCodebookWeight().setChunkWeights(100); // several chunks per pass
                    }
                    List<float[]> expected = new ArrayList<>();
                    try (Predictor<NDList, NDList> p = model.newPredictor(new NoopTranslator())) {
                        for (float[] x : xs) {
                            expected.add(predict(p, m, x));
                        }
                    }
                    for (CodebookBlock b : new CodebookBlock[] {conv, linear}) {
                        b.getCodebookWeight().invalidate(); // the threads race to build the held arrays
                    }
                    CountDownLatch start = new CountDownLatch(1);
                    List<Future<?>> done = new ArrayList<>();
                    for (int t = 0; t < threads; t++) {
                        int offset = t;
                        done.add(
                                pool.submit(
                                        () -> {
                                            start.await();
                                            try (Predictor<NDList, NDList> p = model.newPredictor(new NoopTranslator())) {
                                                for (int i = 0; i < 3 * inputs; i++) {
                                                    int k = (i + offset) % inputs;
                                                    Assert.assertEquals(predict(p, m, xs.get(k)), expected.get(k), 1e-5f, mode + " input " + k);
                                                }
                                            }
                                            return null;
                                        }));
                    }
                    start.countDown();
                    for (Future<?> f : done) {
                        f.get();
                    }
                    Assert.assertEquals(linear.getCodebookWeight().heldBytes() > 0, mode != MemoryMode.PACKED, mode.toString());
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    private static float[] predict(Predictor<NDList, NDList> p, NDManager m, float[] x) throws Exception {
        try (NDManager in = m.newSubManager()) {
            return p.predict(new NDList(in.create(x, new Shape(2, 3, 8, 8)))).singletonOrThrow().toFloatArray();
        }
    }
}
