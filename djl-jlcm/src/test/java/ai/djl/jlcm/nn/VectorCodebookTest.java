package ai.djl.jlcm.nn;

import ai.djl.MalformedModelException;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/** Vector codebooks: one index per {@code d} consecutive weights of a row, in Java and on the engine. */
public class VectorCodebookTest {

    @Test
    public void javaDecodeTakesEachVectorFromItsGroupsCodebookAndScale() {
        // 2 rows × 4 weights, vectors of 2, 1-bit indices: codebooks of 2 codewords of 2 values
        float[] books = {1, 2, 3, 4, /* group 1: */ -1, -2, -3, -4};
        CompressedWeight multi =
                new CompressedWeight(new Shape(2, 4), 1, 2, CodebookMode.MULTI, 2, new int[] {0, 1}, books, null, new int[] {1, 0, 0, 1});
        Assert.assertEquals(multi.decode(), new float[] {3, 4, 1, 2, -1, -2, -3, -4});
        Assert.assertEquals(multi.indexCols(), 2);
        CompressedWeight scaled =
                new CompressedWeight(
                        new Shape(2, 4), 1, 2, CodebookMode.SCALED, 2, new int[] {1, 0}, new float[] {1, 2, 3, 4}, new float[] {10, 0.5f}, new int[] {1, 0, 0, 1});
        Assert.assertEquals(scaled.decode(), new float[] {1.5f, 2, 0.5f, 1, 10, 20, 30, 40});
        // stored: 4 one-bit indices (1 byte), 2 one-bit group ids (1 byte), 8 codebook floats
        Assert.assertEquals(multi.storedBits(), 8 + 8 + 8 * 32);
        Assert.assertEquals(scaled.storedBits(), 8 + 8 + 4 * 32 + 2 * 32);
    }

    @Test
    public void vectorLengthMustDivideARowAndIndicesCountVectors() {
        Assert.expectThrows(
                IllegalArgumentException.class,
                () -> new CompressedWeight(new Shape(2, 3), 1, 2, CodebookMode.MULTI, 1, new int[2], new float[4], null, new int[2]));
        Assert.expectThrows(
                IllegalArgumentException.class,
                () -> new CompressedWeight(new Shape(2, 4), 1, 2, CodebookMode.MULTI, 1, new int[2], new float[4], null, new int[8]));
        Assert.expectThrows(
                IllegalArgumentException.class,
                () -> new CompressedWeight(new Shape(2, 4), 1, 2, CodebookMode.MULTI, 1, new int[2], new float[2], null, new int[4]));
        Assert.expectThrows(IllegalArgumentException.class, () -> new CodebookWeight(new Shape(4, 18), 2, 9, CodebookMode.MULTI, 1));
    }

    @Test
    public void linearEqualsDenseLinearInEveryModeWidthAndVectorLength() {
        // 96×256: words of several indices; 7×24: rows start inside a packed block; 40×48 at 6 bits:
        // 12-bit words of byte triples
        Shape[] shapes = {new Shape(96, 256), new Shape(7, 24), new Shape(40, 48)};
        for (Shape shape : shapes) {
            for (int d : new int[] {2, 3, 4, 8}) {
                if (shape.get(1) % d != 0) {
                    continue;
                }
                for (CodebookMode cm : CodebookMode.values()) {
                    for (int bits : new int[] {1, 2, 3, 4, 6, 8}) {
                        try (NDManager m = NDManager.newBaseManager()) {
                            CompressedWeight w = CodebookBlocksTest.random(shape, bits, d, cm, 3, bits * 31L + d);
                            NDArray dense = m.create(w.decode(), shape);
                            NDArray x = m.randomNormal(new Shape(2, shape.get(1)));
                            float[] expected = Linear.linear(x, dense, null).singletonOrThrow().toFloatArray();
                            CodebookLinear block = CodebookLinear.codebookBuilder().setWeight(CodebookWeight.of(w, m)).optBias(false).build();
                            CodebookWeight cw = block.getCodebookWeight();
                            Assert.assertEquals(cw.read().getIndices(), w.getIndices());
                            Assert.assertEquals(cw.storedBits(), w.storedBits());
                            for (MemoryMode mode : MemoryMode.values()) {
                                for (long chunk : new long[] {Long.MAX_VALUE, 3 * shape.get(1)}) {
                                    cw.setMemoryMode(mode);
                                    cw.setChunkWeights(chunk);
                                    String what = shape + " d=" + d + " " + cm + " " + bits + " bits " + mode + " chunk " + chunk;
                                    float[] got =
                                            block.forward(new ParameterStore(m, false), new NDList(x), false).singletonOrThrow().toFloatArray();
                                    float tol = mode == MemoryMode.CACHE_FP16 ? 2e-2f : 1e-4f;
                                    for (int i = 0; i < got.length; i++) {
                                        Assert.assertEquals(got[i], expected[i], tol * (1 + Math.abs(expected[i])), what + " [" + i + "]");
                                    }
                                    float[] rows = cw.decodeRows(m, m.create(new long[] {shape.get(0) - 1, 0, 2}), false).toFloatArray();
                                    float[] all = w.decode();
                                    int cols = w.cols();
                                    for (int i = 0; i < rows.length; i++) {
                                        long row = new long[] {shape.get(0) - 1, 0, 2}[i / cols];
                                        Assert.assertEquals(rows[i], all[(int) row * cols + i % cols], tol * (1 + Math.abs(rows[i])), what + " rows");
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    public void trainingDecodeSendsEachWeightsGradientToItsCodewordValue() {
        Shape shape = new Shape(64, 96);
        for (int d : new int[] {2, 4}) {
            for (int groups : new int[] {1, 5}) {
                try (NDManager m = NDManager.newBaseManager()) {
                    int bits = 8 / d;
                    CompressedWeight w = CodebookBlocksTest.random(shape, bits, d, CodebookMode.MULTI, groups, d + 10L * groups);
                    CodebookWeight cw = CodebookWeight.of(w, m);
                    float[] r = m.randomUniform(-1, 1, shape).toFloatArray();
                    int k = 1 << bits;
                    int cols = w.cols();
                    double[] expected = new double[groups * k * d];
                    int[] idx = w.getIndices();
                    for (int i = 0; i < r.length; i++) {
                        int row = i / cols;
                        int vector = row * (cols / d) + (i % cols) / d;
                        expected[(w.getGroupOf()[row] * k + idx[vector]) * d + i % d] += r[i];
                    }
                    NDArray codebook = cw.getCodebook().getArray();
                    codebook.setRequiresGradient(true);
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray decoded = cw.decode(m, true);
                        Assert.assertEquals(decoded.toFloatArray(), w.decode());
                        gc.backward(decoded.mul(m.create(r, shape)).sum());
                    }
                    float[] grad = codebook.getGradient().toFloatArray();
                    Assert.assertEquals(grad.length, expected.length);
                    for (int j = 0; j < grad.length; j++) {
                        Assert.assertEquals(grad[j], expected[j], 1e-3 * (1 + Math.abs(expected[j])), "d=" + d + " gradient " + j);
                    }
                }
            }
        }
    }

    @Test
    public void parametersRoundTripAndVersionOneMetadataReadsAsScalar() throws IOException, MalformedModelException {
        Shape shape = new Shape(6, 8);
        try (NDManager m = NDManager.newBaseManager()) {
            CompressedWeight w = CodebookBlocksTest.random(shape, 4, 2, CodebookMode.SCALED, 2, 5);
            CodebookLinear block = CodebookLinear.codebookBuilder().setWeight(CodebookWeight.of(w, m)).optBias(false).build();
            block.initialize(m, ai.djl.ndarray.types.DataType.FLOAT32, new Shape(1, 8));
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            block.saveParameters(new DataOutputStream(bytes));
            CodebookLinear empty =
                    CodebookLinear.codebookBuilder().setWeight(new CodebookWeight(shape, 4, 2, CodebookMode.SCALED, 2)).optBias(false).build();
            empty.loadParameters(m, new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));
            CompressedWeight back = empty.getCodebookWeight().read();
            Assert.assertEquals(back.decode(), w.decode());
            Assert.assertEquals(back.getVectorLength(), 2);

            // a block expecting scalar codebooks refuses the file, naming the vector length
            CodebookLinear scalar =
                    CodebookLinear.codebookBuilder().setWeight(new CodebookWeight(shape, 4, CodebookMode.SCALED, 2)).optBias(false).build();
            MalformedModelException e =
                    Assert.expectThrows(
                            MalformedModelException.class,
                            () -> scalar.loadParameters(m, new DataInputStream(new ByteArrayInputStream(bytes.toByteArray()))));
            Assert.assertTrue(e.getMessage().contains("vectors of 2"), e.getMessage());
        }
        // version 1 metadata (no vector length byte) is a scalar weight's
        ByteArrayOutputStream v1 = new ByteArrayOutputStream();
        DataOutputStream os = new DataOutputStream(v1);
        os.write(shape.getEncoded());
        os.writeByte(3);
        os.writeByte(CodebookMode.MULTI.ordinal());
        os.writeInt(2);
        new CodebookWeight(shape, 3, CodebookMode.MULTI, 2).checkMetadata(new DataInputStream(new ByteArrayInputStream(v1.toByteArray())), 1, "v1");
        Assert.expectThrows(
                MalformedModelException.class,
                () -> new CodebookWeight(shape, 3, 2, CodebookMode.MULTI, 2).checkMetadata(new DataInputStream(new ByteArrayInputStream(v1.toByteArray())), 1, "v1"));
    }
}
