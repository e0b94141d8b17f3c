package ai.djl.jlcm.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;

import org.testng.Assert;
import org.testng.annotations.Test;

/** Every memory mode and chunking against the dense op of the decoded weight. */
public class MemoryModesTest {

    /** float16 keeps 11 significant bits: a weight is rounded by at most 2^-11 of its size. */
    private static final float FP16_REL = 1f / 2048;

    private static NDArray forward(Block block, NDManager m, NDArray x) {
        return block.forward(new ParameterStore(m, false), new NDList(x), false).singletonOrThrow();
    }

    /**
     * Asserts {@code got ≈ expected}: within {@code 1e-4 · (1 + bound)} in float32 modes and
     * within {@code 2^-11 · bound + 1e-4} in CACHE_FP16, where {@code bound = |x|·|W|ᵀ} (computed
     * by the caller with the same op on absolute values) bounds the change that rounding each weight
     * by a relative 2^-11 can make.
     */
    private static void assertClose(NDArray got, NDArray expected, NDArray bound, MemoryMode mode, String what) {
        Assert.assertEquals(got.getShape(), expected.getShape(), what);
        float[] g = got.toFloatArray();
        float[] e = expected.toFloatArray();
        float[] b = bound.toFloatArray();
        for (int i = 0; i < g.length; i++) {
            double tol = mode == MemoryMode.CACHE_FP16 ? FP16_REL * b[i] + 1e-4 : 1e-4 * (1 + b[i]);
            Assert.assertTrue(Math.abs(g[i] - e[i]) <= tol, what + " [" + i + "]: " + g[i] + " vs " + e[i] + ", tol " + tol);
        }
    }

    @Test
    public void linearEqualsDenseLinearInEveryModeBitWidthAndChunking() {
        // 96×256 decodes several indices per lookup (words); 7×10 rows start inside a packed block
        Shape[] shapes = {new Shape(96, 256), new Shape(7, 10)};
        for (Shape shape : shapes) {
            for (CodebookMode cm : CodebookMode.values()) {
                for (int bits = 1; bits <= 8; bits++) {
                    try (NDManager m = NDManager.newBaseManager()) {
                        CompressedWeight w = CodebookBlocksTest.random(shape, bits, cm, 3, bits * 7L);
                        NDArray dense = m.create(w.decode(), shape);
                        NDArray bias = m.randomNormal(new Shape(shape.get(0)));
                        NDArray x = m.randomNormal(new Shape(2, 3, shape.get(1)));
                        NDArray expected = Linear.linear(x, dense, bias).singletonOrThrow();
                        NDArray bound = Linear.linear(x.abs(), dense.abs(), null).singletonOrThrow();
                        CodebookLinear block =
                                CodebookLinear.codebookBuilder()
                                        .setWeight(CodebookWeight.of(w, m))
                                        .optBiasArray(bias)
                                        .build();
                        CodebookWeight cw = block.getCodebookWeight();
                        for (MemoryMode mode : MemoryMode.values()) {
                            // one chunk; chunks of 3 rows (not dividing the row count)
                            for (long chunk : new long[] {Long.MAX_VALUE, 3 * shape.get(1)}) {
                                cw.setMemoryMode(mode);
                                cw.setChunkWeights(chunk);
                                String what = shape + " " + cm + " " + bits + " bits " + mode + " chunk " + chunk;
                                for (int pass = 0; pass < 2; pass++) { // build the held array, then use it
                                    assertClose(forward(block, m, x), expected, bound, mode, what + " pass " + pass);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    public void convolutionsEqualDenseConvolutionInEveryModeAndChunking() {
        // kernel, input, filters, channel groups
        Object[][] cases = {
            {new Shape(3), new Shape(2, 4, 11), 6, 1},
            {new Shape(3, 3), new Shape(2, 4, 7, 7), 6, 2},
            {new Shape(3, 3), new Shape(1, 6, 5, 5), 6, 6}
        };
        for (Object[] c : cases) {
            Shape kernel = (Shape) c[0];
            Shape input = (Shape) c[1];
            int filters = (int) c[2];
            int groups = (int) c[3];
            Shape ws = new Shape(filters, input.get(1) / groups).addAll(kernel);
            for (CodebookMode cm : CodebookMode.values()) {
                for (int bits = 1; bits <= 8; bits++) {
                    try (NDManager m = NDManager.newBaseManager()) {
                        CompressedWeight w = CodebookBlocksTest.random(ws, bits, cm, 2, bits);
                        NDArray dense = m.create(w.decode(), ws);
                        NDArray bias = m.randomNormal(new Shape(filters));
                        NDArray x = m.randomNormal(input);
                        long[] ones = new long[kernel.dimension()];
                        java.util.Arrays.fill(ones, 1);
                        Shape one = new Shape(ones);
                        Shape zero = new Shape(new long[kernel.dimension()]);
                        NDArray expected = conv(x, dense, bias, one, zero, groups);
                        NDArray bound = conv(x.abs(), dense.abs(), null, one, zero, groups);
                        CodebookConvolution block =
                                CodebookConvolution.builder()
                                        .setKernelShape(kernel)
                                        .setFilters(filters)
                                        .optGroups(groups)
                                        .setWeight(CodebookWeight.of(w, m))
                                        .optBiasArray(bias)
                                        .build();
                        CodebookWeight cw = block.getCodebookWeight();
                        for (MemoryMode mode : MemoryMode.values()) {
                            // one chunk; chunks of 4 filters (rounded to whole channel groups)
                            for (long chunk : new long[] {Long.MAX_VALUE, 4 * ws.size() / filters}) {
                                cw.setMemoryMode(mode);
                                cw.setChunkWeights(chunk);
                                String what = kernel + " groups " + groups + " " + cm + " " + bits + " bits " + mode + " chunk " + chunk;
                                assertClose(forward(block, m, x), expected, bound, mode, what);
                            }
                        }
                    }
                }
            }
        }
    }

    private static NDArray conv(NDArray x, NDArray w, NDArray b, Shape one, Shape zero, int groups) {
        return x.getNDArrayInternal().convolution(x, w, b, one, zero, one, groups).singletonOrThrow();
    }

    @Test
    public void decodeAndDecodeRowsEqualTheJavaDecodeInEveryMode() {
        Shape[] shapes = {new Shape(96, 256), new Shape(7, 10), new Shape(5, 3, 3, 3)};
        for (Shape shape : shapes) {
            for (CodebookMode cm : CodebookMode.values()) {
                for (int bits : new int[] {1, 2, 3, 5, 8}) {
                    try (NDManager m = NDManager.newBaseManager()) {
                        CompressedWeight w = CodebookBlocksTest.random(shape, bits, cm, 2, bits);
                        float[] dense = w.decode();
                        int rows = w.rows();
                        int cols = w.cols();
                        long[] ids = {rows - 1, 0, 2, 2, rows / 2, 1};
                        CodebookWeight cw = CodebookWeight.of(w, m);
                        for (MemoryMode mode : MemoryMode.values()) {
                            cw.setMemoryMode(mode);
                            cw.setChunkWeights(2L * cols + 1);
                            String what = shape + " " + cm + " " + bits + " bits " + mode;
                            float tol = mode == MemoryMode.CACHE_FP16 ? 1e-3f * 4 : 0f;
                            NDArray full = cw.decode(m, false);
                            Assert.assertEquals(full.getShape(), shape, what);
                            assertValues(full.toFloatArray(), dense, tol, what);
                            NDArray got = cw.decodeRows(m, m.create(ids).reshape(2, 3), false);
                            Assert.assertEquals(got.getShape(), new Shape(2, 3).addAll(shape.slice(1)), what);
                            float[] expected = new float[ids.length * cols];
                            for (int i = 0; i < ids.length; i++) {
                                System.arraycopy(dense, (int) ids[i] * cols, expected, i * cols, cols);
                            }
                            assertValues(got.toFloatArray(), expected, tol, what + " rows");
                        }
                    }
                }
            }
        }
    }

    @Test
    public void twelveBitWordsDecodeAndLearnAsTheJavaDecode() {
        // 3 bits (4 per word) and 6 bits (2 per word) on rows of whole byte triples; chunks of 7 rows
        Shape shape = new Shape(400, 520);
        for (int bits : new int[] {3, 6}) {
            for (int groups : new int[] {1, 3}) {
                try (NDManager m = NDManager.newBaseManager()) {
                    CompressedWeight w = CodebookBlocksTest.random(shape, bits, CodebookMode.MULTI, groups, bits + 10L * groups);
                    CodebookWeight cw = CodebookWeight.of(w, m);
                    String what = bits + " bits, " + groups + " groups";
                    Assert.assertTrue(cw.decodesTwelveBitWords(), what);
                    cw.setChunkWeights(7 * 520);
                    assertValues(cw.decode(m, false).toFloatArray(), w.decode(), 0f, what);

                    // training: the codebook gradient of Σ W∘R is R summed per (group, codeword)
                    float[] r = m.randomUniform(-1, 1, shape).toFloatArray();
                    int k = 1 << bits;
                    double[] expected = new double[groups * k];
                    int[] idx = w.getIndices();
                    for (int i = 0; i < idx.length; i++) {
                        expected[w.getGroupOf()[i / 520] * k + idx[i]] += r[i];
                    }
                    NDArray codebook = cw.parameters().get(2).getArray();
                    codebook.setRequiresGradient(true);
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray decoded = cw.decode(m, true);
                        assertValues(decoded.toFloatArray(), w.decode(), 0f, what + " training");
                        gc.backward(decoded.mul(m.create(r, shape)).sum());
                    }
                    float[] grad = codebook.getGradient().toFloatArray();
                    for (int j = 0; j < grad.length; j++) {
                        Assert.assertEquals(grad[j], expected[j], 1e-3 * (1 + Math.abs(expected[j])), what + " gradient " + j);
                    }
                }
            }
        }
    }

    private static void assertValues(float[] got, float[] expected, float relTol, String what) {
        Assert.assertEquals(got.length, expected.length, what);
        for (int i = 0; i < got.length; i++) {
            Assert.assertEquals(got[i], expected[i], relTol * Math.abs(expected[i]), what + " [" + i + "]");
        }
    }

    @Test
    public void heldBytesFollowTheMode() {
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(12, 40);
            CodebookLinear block =
                    CodebookLinear.codebookBuilder()
                            .setWeight(CodebookWeight.of(CodebookBlocksTest.random(shape, 3, CodebookMode.MULTI, 2, 1), m))
                            .optBias(false)
                            .build();
            CodebookWeight cw = block.getCodebookWeight();
            long[] expected = {0, 240, 960, 1920}; // byte mode: two 3-bit indices a byte
            for (MemoryMode mode : MemoryMode.values()) {
                cw.setMemoryMode(mode);
                Assert.assertEquals(cw.heldBytes(), 0, mode + " before the first pass");
                forward(block, m, m.randomNormal(new Shape(2, 40)));
                Assert.assertEquals(cw.heldBytes(), expected[mode.ordinal()], mode.toString());
                NDArray out = block.forward(new ParameterStore(m, false), new NDList(m.ones(new Shape(1, 40))), true).head();
                Assert.assertEquals(out.getShape(), new Shape(1, 12));
                Assert.assertEquals(cw.heldBytes(), 0, mode + " after a training pass");
            }
            Assert.assertEquals(DataType.FLOAT16.getNumOfBytes(), 2);
        }
    }

    @Test
    public void memoryModeKeysRoundTripAndWrongOnesNameTheAllowedValues() {
        for (MemoryMode mode : MemoryMode.values()) {
            Assert.assertEquals(MemoryMode.fromKey(mode.key().toUpperCase(java.util.Locale.ROOT)), mode);
        }
        IllegalArgumentException e =
                Assert.expectThrows(IllegalArgumentException.class, () -> MemoryMode.fromKey("bf16"));
        Assert.assertTrue(e.getMessage().contains("packed|byte|fp16|fp32"), e.getMessage());
    }
}
