package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.ParameterStore;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.ArrayList;
import java.util.List;

public class BatchNormStatisticsTest {

    private static float[] stat(Block bn, String name) {
        return bn.getDirectParameters().get(name).getArray().toFloatArray();
    }

    /** Conv (4 filters), BatchNorm, ReLU, conv, BatchNorm, initialized for 1×9×9 inputs. */
    private static SequentialBlock convolutions(NDManager m, int secondFilters) {
        SequentialBlock net =
                new SequentialBlock()
                        .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(4).build())
                        .add(BatchNorm.builder().build())
                        .add(Activation.reluBlock())
                        .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(secondFilters).build())
                        .add(BatchNorm.builder().build());
        net.initialize(m, DataType.FLOAT32, new Shape(2, 1, 9, 9));
        return net;
    }

    /**
     * The running statistics become the exact statistics of each BatchNorm's inputs, computed here
     * independently layer by layer (the second BatchNorm's inputs depend on the first's new
     * statistics).
     */
    @Test
    public void runningStatisticsBecomeThoseOfTheCalibrationInputs() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(8);
            SequentialBlock net = convolutions(m, 5);
            List<NDList> calibration = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                calibration.add(new NDList(m.randomNormal(2f, 3f, new Shape(6, 1, 9, 9), DataType.FLOAT32)));
            }
            Assert.assertEquals(BatchNormStatistics.reestimate(net, calibration, m), 2);

            ParameterStore ps = new ParameterStore(m, false);
            Block conv1 = net.getChildren().get(0).getValue();
            Block bn1 = net.getChildren().get(1).getValue();
            Block conv2 = net.getChildren().get(3).getValue();
            Block bn2 = net.getChildren().get(4).getValue();
            NDArray y1 = NDArrayConcat.of(calibration, x -> conv1.forward(ps, new NDList(x), false).head());
            assertStatistics(bn1, y1);
            NDArray y2 =
                    NDArrayConcat.of(
                            calibration,
                            x -> {
                                NDArray h = bn1.forward(ps, conv1.forward(ps, new NDList(x), false), false).head();
                                return conv2.forward(ps, new NDList(Activation.relu(h)), false).head();
                            });
            assertStatistics(bn2, y2);
        }
    }

    /**
     * A round trip: statistics that fit the calibration inputs, then disturbed (as a compressed
     * layer before them would), are restored exactly by re-estimating on the same inputs, the float
     * weights being unchanged.
     */
    @Test
    public void disturbedStatisticsOfUnchangedWeightsAreRestored() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(9);
            SequentialBlock net = convolutions(m, 3);
            List<NDList> calibration = List.of(new NDList(m.randomNormal(-1f, 2f, new Shape(8, 1, 9, 9), DataType.FLOAT32)));
            BatchNormStatistics.reestimate(net, calibration, m);
            Block[] norms = {net.getChildren().get(1).getValue(), net.getChildren().get(4).getValue()};
            float[][] fitted = new float[4][];
            for (int i = 0; i < 2; i++) {
                fitted[2 * i] = stat(norms[i], "runningMean");
                fitted[2 * i + 1] = stat(norms[i], "runningVar");
                norms[i].getDirectParameters().get("runningMean").getArray().muli(3).addi(0.5f);
                norms[i].getDirectParameters().get("runningVar").getArray().muli(0.1f);
            }
            Assert.assertNotEquals(stat(norms[0], "runningMean"), fitted[0]);
            BatchNormStatistics.reestimate(net, calibration, m);
            for (int i = 0; i < 2; i++) {
                Assert.assertEquals(stat(norms[i], "runningMean"), fitted[2 * i], 1e-5f);
                Assert.assertEquals(stat(norms[i], "runningVar"), fitted[2 * i + 1], 1e-5f);
            }
        }
    }

    /** Mean and unbiased variance per channel of an (N, C, H, W) array, in plain Java. */
    private static void assertStatistics(Block bn, NDArray y) {
        long[] d = y.getShape().getShape();
        int c = (int) d[1];
        int plane = (int) (d[2] * d[3]);
        float[] v = y.toFloatArray();
        float[] mean = new float[c];
        float[] var = new float[c];
        long n = d[0] * plane;
        for (int ch = 0; ch < c; ch++) {
            double s = 0;
            for (int i = 0; i < d[0]; i++) {
                for (int p = 0; p < plane; p++) {
                    s += v[(int) ((i * c + ch) * plane + p)];
                }
            }
            double mu = s / n;
            double q = 0;
            for (int i = 0; i < d[0]; i++) {
                for (int p = 0; p < plane; p++) {
                    double e = v[(int) ((i * c + ch) * plane + p)] - mu;
                    q += e * e;
                }
            }
            mean[ch] = (float) mu;
            var[ch] = (float) (q / (n - 1));
        }
        Assert.assertEquals(stat(bn, "runningMean"), mean, 1e-4f);
        Assert.assertEquals(stat(bn, "runningVar"), var, 1e-3f);
        Assert.assertTrue(var[0] > 0.01f && Math.abs(var[0] - 1) > 0.01f, "a real variance, not the initial 1");
    }

    /** Concatenates a function's outputs over the calibration batches along axis 0. */
    private static final class NDArrayConcat {
        static NDArray of(List<NDList> batches, java.util.function.Function<NDArray, NDArray> f) {
            NDList parts = new NDList();
            for (NDList b : batches) {
                parts.add(f.apply(b.head()));
            }
            return ai.djl.ndarray.NDArrays.concat(parts);
        }
    }
}
