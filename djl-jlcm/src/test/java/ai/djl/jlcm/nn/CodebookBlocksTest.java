package ai.djl.jlcm.nn;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.Random;

public class CodebookBlocksTest {

    /** A random compressed weight. */
    static CompressedWeight random(Shape shape, int bits, CodebookMode mode, int groups, long seed) {
        return random(shape, bits, 1, mode, groups, seed);
    }

    /** A random compressed weight whose codewords have {@code vectorLength} values each. */
    static CompressedWeight random(Shape shape, int bits, int vectorLength, CodebookMode mode, int groups, long seed) {
        Random r = new Random(seed);
        int rows = (int) shape.get(0);
        int cols = (int) (shape.size() / rows) / vectorLength;
        int k = 1 << bits;
        int[] groupOf = new int[rows];
        for (int o = 0; o < rows; o++) {
            groupOf[o] = o % groups;
        }
        int books = mode == CodebookMode.SCALED ? 1 : groups;
        float[] cb = new float[books * k * vectorLength];
        for (int i = 0; i < cb.length; i++) {
            cb[i] = (float) r.nextGaussian();
        }
        float[] scales = null;
        if (mode == CodebookMode.SCALED) {
            scales = new float[groups];
            for (int g = 0; g < groups; g++) {
                scales[g] = 0.5f + r.nextFloat();
            }
        }
        int[] idx = new int[rows * cols];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = r.nextInt(k);
        }
        return new CompressedWeight(shape, bits, vectorLength, mode, groups, groupOf, cb, scales, idx);
    }

    private static NDList forward(ai.djl.nn.Block block, NDManager m, NDArray x) {
        return block.forward(new ParameterStore(m, false), new NDList(x), false);
    }

    @Test
    public void linearForwardEqualsDenseLinearOfDecodedWeight() {
        for (CodebookMode mode : CodebookMode.values()) {
            for (int bits : new int[] {1, 3, 8}) {
                try (NDManager m = NDManager.newBaseManager()) {
                    CompressedWeight w = random(new Shape(6, 10), bits, mode, 3, bits);
                    CodebookLinear block =
                            CodebookLinear.codebookBuilder()
                                    .setWeight(CodebookWeight.of(w, m))
                                    .optBiasArray(m.arange(6f))
                                    .optInputShape(new Shape(4, 10))
                                    .build();
                    NDArray x = m.randomNormal(new Shape(4, 10));
                    NDArray dense = m.create(w.decode(), new Shape(6, 10));
                    NDArray expected = Linear.linear(x, dense, m.arange(6f)).singletonOrThrow();
                    NDArray got = forward(block, m, x).singletonOrThrow();
                    Assert.assertEquals(got.toFloatArray(), expected.toFloatArray(), 1e-5f, mode + " " + bits);
                    Assert.assertEquals(
                            block.getCodebookWeight().read().getIndices(), w.getIndices());
                }
            }
        }
    }

    @Test
    public void convolutionForwardEqualsDenseConvolutionOfDecodedWeight() {
        // 1-D, 2-D with stride/padding/dilation, depthwise 2-D, 3-D
        Object[][] cases = {
            {new Shape(3), new Shape(2, 3, 9), 4, 1, new Shape(2), new Shape(1), new Shape(1)},
            {new Shape(3, 3), new Shape(2, 4, 8, 8), 5, 1, new Shape(2, 1), new Shape(1, 1), new Shape(1, 2)},
            {new Shape(3, 3), new Shape(2, 4, 6, 6), 4, 4, new Shape(1, 1), new Shape(1, 1), new Shape(1, 1)},
            {new Shape(2, 2, 2), new Shape(1, 2, 4, 4, 4), 3, 1, new Shape(1, 1, 1), new Shape(0, 0, 0), new Shape(1, 1, 1)}
        };
        for (Object[] c : cases) {
            Shape kernel = (Shape) c[0];
            Shape input = (Shape) c[1];
            int filters = (int) c[2];
            int groups = (int) c[3];
            try (NDManager m = NDManager.newBaseManager()) {
                Shape wShape = new Shape(filters, input.get(1) / groups).addAll(kernel);
                CompressedWeight w = random(wShape, 2, CodebookMode.MULTI, 2, 1);
                CodebookConvolution block =
                        CodebookConvolution.builder()
                                .setKernelShape(kernel)
                                .setFilters(filters)
                                .optGroups(groups)
                                .optStride((Shape) c[4])
                                .optPadding((Shape) c[5])
                                .optDilation((Shape) c[6])
                                .optBias(false)
                                .setWeight(CodebookWeight.of(w, m))
                                .optInputShape(input)
                                .build();
                NDArray x = m.randomNormal(input);
                NDArray dense = m.create(w.decode(), wShape);
                NDArray expected =
                        x.getNDArrayInternal()
                                .convolution(x, dense, null, (Shape) c[4], (Shape) c[5], (Shape) c[6], groups)
                                .singletonOrThrow();
                NDArray got = forward(block, m, x).singletonOrThrow();
                Assert.assertEquals(got.getShape(), expected.getShape());
                Assert.assertEquals(got.toFloatArray(), expected.toFloatArray(), 1e-5f, kernel.toString());
                Assert.assertEquals(block.getOutputShapes(new Shape[] {input})[0], expected.getShape());
            }
        }
    }

    @Test
    public void gradientReachesCodebookAsPerCodewordSums() {
        try (NDManager m = NDManager.newBaseManager()) {
            CompressedWeight w = random(new Shape(5, 7), 2, CodebookMode.MULTI, 2, 9);
            CodebookLinear block =
                    CodebookLinear.codebookBuilder()
                            .setWeight(CodebookWeight.of(w, m))
                            .optBias(false)
                            .optInputShape(new Shape(3, 7))
                            .build();
            NDArray codebook = block.getDirectParameters().get("codebook").getArray();
            codebook.setRequiresGradient(true);
            NDArray x = m.randomNormal(new Shape(3, 7));
            try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                NDArray y = block.forward(new ParameterStore(m, false), new NDList(x), true).singletonOrThrow();
                gc.backward(y.sum());
            }
            // dL/dW[o][n] = sum_b x[b][n]; dL/dc[g][k] = sum of dL/dW over weights of group g mapped to k
            float[] xs = x.toFloatArray();
            double[] expected = new double[2 * 4];
            int[] idx = w.getIndices();
            int[] groupOf = w.getGroupOf();
            for (int o = 0; o < 5; o++) {
                for (int n = 0; n < 7; n++) {
                    double g = xs[n] + xs[7 + n] + xs[14 + n];
                    expected[groupOf[o] * 4 + idx[o * 7 + n]] += g;
                }
            }
            float[] got = codebook.getGradient().toFloatArray();
            for (int i = 0; i < expected.length; i++) {
                Assert.assertEquals(got[i], expected[i], 1e-4, "codeword " + i);
            }
        }
    }

    @Test
    public void everyMemoryModeKeepsNoGrowthAcrossPasses() {
        try (NDManager model = NDManager.newBaseManager()) {
            CompressedWeight w = random(new Shape(16, 32), 3, CodebookMode.SCALED, 4, 2);
            for (MemoryMode memoryMode : MemoryMode.values()) {
                CodebookLinear block =
                        CodebookLinear.codebookBuilder()
                                .setWeight(CodebookWeight.of(w, model))
                                .optInputShape(new Shape(2, 32))
                                .optBiasArray(model.zeros(new Shape(16)))
                                .optMemoryMode(memoryMode)
                                .build();
                try (NDManager data = model.newSubManager()) {
                    NDArray x = data.randomNormal(new Shape(2, 32));
                    float[] first = forward(block, data, x).singletonOrThrow().toFloatArray();
                    int modelArrays = ((BaseNDManager) model).getManagedArrays().size();
                    int dataArrays = ((BaseNDManager) data).getManagedArrays().size();
                    for (int i = 0; i < 100; i++) {
                        try (NDManager step = data.newSubManager()) {
                            NDArray xi = x.duplicate();
                            xi.attach(step);
                            float[] out = forward(block, step, xi).singletonOrThrow().toFloatArray();
                            Assert.assertEquals(out, first, 0f);
                        }
                    }
                    Assert.assertEquals(((BaseNDManager) model).getManagedArrays().size(), modelArrays);
                    Assert.assertEquals(((BaseNDManager) data).getManagedArrays().size(), dataArrays);
                }
            }
        }
    }

    @Test(expectedExceptions = IllegalArgumentException.class)
    public void bitsOutsideRangeAreRejected() {
        new CodebookWeight(new Shape(2, 2), 9, CodebookMode.MULTI, 1);
    }

    @Test
    public void storedBitsCountEveryPart() {
        CompressedWeight w = random(new Shape(8, 16), 2, CodebookMode.SCALED, 4, 3);
        // indices 128·2 bits, group ids 8·2 bits (two bits for four groups), 4 codewords, 4 scales
        Assert.assertEquals(w.storedBits(), 128 * 2 + 8 * 2 + 32 * 4 + 32 * 4);
        Assert.assertTrue(Convolution.class.isAssignableFrom(CodebookConvolution.class));
    }
}
