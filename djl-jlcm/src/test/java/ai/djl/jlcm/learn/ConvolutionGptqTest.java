package ai.djl.jlcm.learn;

import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv1d;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.convolutional.Conv3d;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.training.ParameterStore;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.List;

/** GPTQ on convolutions: the unfolding matches the engine's convolution, and GPTQ beats rounding. */
public class ConvolutionGptqTest {

    /** Spatially correlated inputs (as images are): cumulative sums of noise along the last axis. */
    private static NDArray smooth(NDManager m, Shape shape) {
        return m.randomNormal(shape).cumSum(shape.dimension() - 1).div((float) Math.sqrt(shape.tail()));
    }

    private static Convolution initialized(NDManager m, Convolution layer, Shape input) {
        layer.initialize(m, DataType.FLOAT32, input);
        return layer;
    }

    /** Conv1d, 2-D with stride, padding and dilation, grouped and depthwise, Conv3d. */
    private static Object[][] layers() {
        return new Object[][] {
            {Conv1d.builder().setKernelShape(new Shape(3)).setFilters(6).optPadding(new Shape(1)).build(), new Shape(3, 4, 17)},
            {
                Conv2d.builder().setKernelShape(new Shape(3, 2)).setFilters(6).optStride(new Shape(2, 1))
                        .optPadding(new Shape(1, 2)).optDilation(new Shape(2, 1)).build(),
                new Shape(2, 3, 11, 9)
            },
            {Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(8).optGroups(2).optBias(false).build(), new Shape(2, 4, 8, 8)},
            {Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(4).optGroups(4).optPadding(new Shape(1, 1)).build(), new Shape(2, 4, 7, 7)},
            {Conv3d.builder().setKernelShape(new Shape(2, 2, 2)).setFilters(3).optStride(new Shape(1, 2, 1)).build(), new Shape(2, 2, 4, 5, 4)},
        };
    }

    @Test
    public void unfoldedPatchesTimesTheFlatWeightGiveTheConvolution() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(3);
            for (Object[] c : layers()) {
                Convolution layer = initialized(m, (Convolution) c[0], (Shape) c[1]);
                NDArray x = m.randomNormal((Shape) c[1]);
                NDArray y = layer.forward(new ParameterStore(m, false), new NDList(x), false).head();
                long batch = y.getShape().get(0);
                long filters = y.getShape().get(1);
                int groups = layer.getGroups();
                NDArray w = layer.getDirectParameters().get("weight").getArray();
                long cols = w.getShape().size() / filters;
                NDArray patches = ConvolutionPatches.unfold(x, layer);
                // per group: [F/G, cols] x [B, cols, L]
                NDArray flat = w.reshape(groups, filters / groups, cols);
                NDArray byGroup = patches.reshape(batch, groups, cols, -1).transpose(1, 0, 2, 3);
                NDArray out = flat.expandDims(1).matMul(byGroup).transpose(1, 0, 2, 3).reshape(batch, filters, -1);
                if (layer.isIncludeBias()) {
                    out = out.add(layer.getDirectParameters().get("bias").getArray().reshape(1, filters, 1));
                }
                Assert.assertEquals(patches.getShape().get(2), y.getShape().slice(2).size(), layer.toString());
                float diff = out.sub(y.reshape(batch, filters, -1)).abs().max().getFloat();
                Assert.assertTrue(diff < 1e-4f, layer + " " + c[1] + ": largest difference " + diff);
            }
        }
    }

    @Test
    public void theGroupGramsAreThoseOfThePatchesOfEachGroup() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(5);
            Shape input = new Shape(5, 4, 6, 6);
            Convolution layer =
                    initialized(m, Conv2d.builder().setKernelShape(new Shape(2, 2)).setFilters(4).optGroups(2).build(), input);
            NDArray x = m.randomNormal(input);
            double[][] grams = ConvolutionPatches.grams(x, layer, 2);
            Assert.assertEquals(grams.length, 2);
            NDArray p = ConvolutionPatches.unfold(x, layer);
            long positions = p.getShape().get(0) * p.getShape().get(2);
            for (int g = 0; g < 2; g++) {
                NDArray rows = p.get(":, " + g * 8 + ":" + (g + 1) * 8 + ", :").transpose(1, 0, 2).reshape(8, -1);
                float[] expected = rows.matMul(rows.transpose()).div((float) positions).toFloatArray();
                Assert.assertEquals(grams[g].length, 64);
                for (int i = 0; i < 64; i++) {
                    Assert.assertEquals(grams[g][i], expected[i], 1e-4, "group " + g + " entry " + i);
                }
            }
        }
    }

    @Test
    public void gptqLowersTheConvolutionOutputErrorOfRoundingOnTheSameGrid() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(8);
            Shape input = new Shape(16, 8, 10, 10);
            Convolution[] convs = {
                Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(16).optPadding(new Shape(1, 1)).build(),
                Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(16).optGroups(2).build(),
                Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(8).optGroups(8).optPadding(new Shape(1, 1)).build(),
            };
            for (Convolution conv : convs) {
                Convolution layer = initialized(m, conv, input);
                NDArray weight = layer.getDirectParameters().get("weight").getArray();
                NDArray bias = layer.getDirectParameters().get("bias").getArray();
                List<NDArray> inputs = List.of(smooth(m, input), smooth(m, input));
                for (Method method : new Method[] {Method.GPTQ, Method.GPTQ_CODEBOOK}) {
                    LayerSettings s = LayerSettings.defaults().toBuilder().optMethod(method).optBits(2).optGroups(4).build();
                    LayerResult r;
                    try (ReconstructionLoss loss = new ConvolutionReconstruction(m, layer, weight, bias, inputs, inputs)) {
                        r = new GptqLearner(s).learn(m, weight.toFloatArray(), weight.getShape(), loss);
                    }
                    String what = method.label() + ", groups " + layer.getGroups();
                    Assert.assertTrue(
                            r.learnedError() < 0.9 * r.initError(),
                            what + ": GPTQ " + r.learnedError() + " vs nearest " + r.initError());
                    Assert.assertEquals(r.weight().getShape(), weight.getShape(), what);
                }
            }
        }
    }
}
