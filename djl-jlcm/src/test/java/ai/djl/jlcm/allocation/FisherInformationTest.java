package ai.djl.jlcm.allocation;

import ai.djl.Model;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.LambdaBlock;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public class FisherInformationTest {

    @Test
    public void isTheSoftmaxFisherOfALinearClassifier() {
        try (Model model = Model.newInstance("fisher", "PyTorch")) {
            Linear linear = Linear.builder().setUnits(3).build();
            model.setBlock(linear);
            NDManager m = model.getNDManager();
            linear.initialize(m, DataType.FLOAT32, new Shape(1, 4));
            // probabilities 0.42, 0.27, 0.31: the relative error of each label's frequency stays small
            float[] w = {0.05f, -0.03f, 0.02f, 0.01f, -0.04f, 0.06f, 0.03f, -0.02f, 0.01f, 0.02f, -0.05f, 0.04f};
            linear.getParameters().get("weight").getArray().set(w);
            linear.getParameters().get("bias").getArray().set(new float[] {0.1f, 0f, -0.1f});
            float[] x = {1.0f, -2.0f, 0.5f, 3.0f};
            // every sample the same input: F[k, j] = x_j² p_k (1 - p_k)
            int samples = 2000;
            List<NDList> calibration = new ArrayList<>();
            for (int b = 0; b < 4; b++) {
                calibration.add(new NDList(m.create(x, new Shape(1, 4)).repeat(0, samples / 4)));
            }
            double[] p = new double[3];
            double total = 0;
            for (int k = 0; k < 3; k++) {
                double z = k == 0 ? 0.1 : k == 1 ? 0 : -0.1;
                for (int j = 0; j < 4; j++) {
                    z += w[k * 4 + j] * x[j];
                }
                p[k] = Math.exp(z);
                total += p[k];
            }
            NDArray weight = linear.getParameters().get("weight").getArray();
            weight.setRequiresGradient(false);
            FisherInformation fisher = FisherInformation.measure(linear, List.of(""), calibration, null, 3, m);
            Assert.assertEquals(fisher.samples(), samples);
            RowSample rows = fisher.of("");
            Assert.assertEquals(rows.rows(), new int[] {0, 1, 2});
            Assert.assertEquals(rows.weights(), new double[] {1, 1, 1});
            Assert.assertEquals(rows.values(), w, "the rows' values, for the allocation");
            float[] f = rows.fisher();
            Assert.assertEquals(f.length, 12);
            for (int k = 0; k < 3; k++) {
                double pk = p[k] / total;
                for (int j = 0; j < 4; j++) {
                    double expected = x[j] * x[j] * pk * (1 - pk);
                    // from the label frequencies of 2 000 draws: at most 2.3 % relative standard error here
                    Assert.assertEquals(f[k * 4 + j], expected, 0.12 * expected, "F[" + k + ", " + j + "]");
                }
            }
            Assert.assertFalse(weight.hasGradient(), "the weight's gradient was off before");
        }
    }

    @Test
    public void drawsRowsByTheirMassAndWeighsThemWithoutBias() {
        double[] mass = new double[1000];
        for (int i = 0; i < mass.length; i++) {
            mass[i] = i % 100 == 7 ? 0 : 1 + (i % 13);
        }
        mass[500] = 5000; // a row with a third of the mass: a word table's most frequent token
        RowSample s = RowSample.byMass(mass, 1 << 12, BitAllocation.SAMPLE_WEIGHTS);
        int n = BitAllocation.SAMPLE_WEIGHTS >> 12;
        Assert.assertTrue(s.rows().length <= n && s.rows().length > n / 2, s.rows().length + " rows");
        double total = 0;
        for (double m : mass) {
            total += m;
        }
        double estimate = 0;
        for (int i = 0; i < s.rows().length; i++) {
            Assert.assertTrue(mass[s.rows()[i]] > 0, "row " + s.rows()[i] + " has no mass");
            Assert.assertTrue(i == 0 || s.rows()[i] > s.rows()[i - 1]);
            estimate += s.weights()[i] * mass[s.rows()[i]];
        }
        // the estimate of the mass itself is exact: Σ c·(M/n)/m · m = M
        Assert.assertEquals(estimate, total, 1e-9 * total);
        int heavy = java.util.Arrays.binarySearch(s.rows(), 500);
        Assert.assertTrue(heavy >= 0, "the heaviest row is drawn");
        // drawn about n·5000/M times, and weighted by that count: c·M/(n·m)
        Assert.assertEquals(s.weights()[heavy], Math.round(n * 5000 / total) * total / (n * 5000.0), 1e-9);

        RowSample all = RowSample.byMass(new double[] {0, 2, 0}, 4, BitAllocation.SAMPLE_WEIGHTS);
        Assert.assertEquals(all.rows(), new int[] {0, 1, 2});
        RowSample even = RowSample.evenlySpaced(200, 1 << 12, BitAllocation.SAMPLE_WEIGHTS);
        Assert.assertEquals(even.rows().length, 64);
        Assert.assertEquals(even.rows()[1], 3); // ⌊1 · 200 / 64⌋
        Assert.assertEquals(even.weights()[0], 200 / 64.0);
    }

    @Test
    public void keepsTheFisherInformationOfTheDrawnRows() {
        try (Model model = Model.newInstance("fisher", "PyTorch")) {
            int cols = 1 << 12;
            Linear linear = Linear.builder().setUnits(200).build();
            model.setBlock(linear);
            NDManager m = model.getNDManager();
            linear.initialize(m, DataType.FLOAT32, new Shape(1, cols));
            NDArray x = m.randomNormal(new Shape(2, cols));
            RowSample rows = FisherInformation.measure(linear, List.of(""), List.of(new NDList(x)), null, 0, m).of("");
            // 64 draws; most of the mass is in the rows of the 2 labels drawn, so few distinct rows
            Assert.assertTrue(rows.rows().length >= 2 && rows.rows().length <= 64, rows.rows().length + " rows");
            Assert.assertEquals(rows.fisher().length, rows.rows().length * cols);
            float[] weight = linear.getParameters().get("weight").getArray().toFloatArray();
            int last = rows.rows()[rows.rows().length - 1];
            Assert.assertEquals(
                    java.util.Arrays.copyOfRange(rows.values(), (rows.rows().length - 1) * cols, rows.rows().length * cols),
                    java.util.Arrays.copyOfRange(weight, last * cols, (last + 1) * cols));
        }
    }

    /** {@code out = A(x) + 0.01 · B(x)}: B's weights move the logits a hundred times less than A's. */
    private static Model twoBranches() {
        Model model = Model.newInstance("branches", "PyTorch");
        Block scaledDown =
                new SequentialBlock().add(Linear.builder().setUnits(64).build()).add(new LambdaBlock(l -> new NDList(l.head().mul(0.01f))));
        model.setBlock(
                new ParallelBlock(
                        outs -> new NDList(outs.get(0).head().add(outs.get(1).head())),
                        List.of(Linear.builder().setUnits(64).build(), scaledDown)));
        model.getNDManager().getEngine().setRandomSeed(11);
        model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(4, 256));
        return model;
    }

    @Test
    public void givesTheBitsToTheLayerTheOutputDependsOn() {
        CompressionPlan plan = CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(1).build());
        String strong = "01Linear";
        String weak = "02SequentialBlock/01Linear";
        try (Model model = twoBranches(); NDManager m = model.getNDManager().newSubManager()) {
            Allocation byWeight = BitAllocation.allocate(model.getBlock(), plan, 4.5);
            Assert.assertEquals(byWeight.bits().keySet(), java.util.Set.of(strong, weak));
            // alike in size and weight distribution: the data-free error cannot tell them apart
            Assert.assertTrue(Math.abs(byWeight.bits().get(strong) - byWeight.bits().get(weak)) <= 1, byWeight.bits().toString());

            List<NDList> calibration = List.of(new NDList(m.randomNormal(new Shape(16, 256))), new NDList(m.randomNormal(new Shape(16, 256))));
            Allocation expected =
                    BitAllocation.allocate(
                            model.getBlock(),
                            plan,
                            4.5,
                            null,
                            FisherInformation.measure(model.getBlock(), List.of(strong, weak), calibration, null, 0, m));
            // a Fisher information 10⁴ times smaller is worth about log4(10⁴) = 6.6 bits
            Assert.assertTrue(expected.bits().get(strong) - expected.bits().get(weak) >= 4, expected.bits().toString());

            Jlcm.builder().optPlan(plan).optTargetBitsPerWeight(4.5).optSensitivity(Sensitivity.FISHER).build().compress(model, calibration);
            // Jlcm measures on one engine thread, the call above on two: compare what they chose, not the last bit
            Map<String, Integer> compressed = BitAllocationTest.compressedWidths(model.getBlock());
            Assert.assertEquals(compressed.keySet(), expected.bits().keySet());
            Assert.assertTrue(compressed.get(strong) - compressed.get(weak) >= 4, compressed.toString());
        }
    }

    @Test
    public void needsCalibrationInputs() {
        try (Model model = twoBranches()) {
            IllegalArgumentException e =
                    Assert.expectThrows(
                            IllegalArgumentException.class,
                            () -> Jlcm.builder()
                                    .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).build()))
                                    .optTargetBitsPerWeight(3)
                                    .optSensitivity(Sensitivity.FISHER)
                                    .build()
                                    .compress(model, List.of()));
            Assert.assertEquals(e.getMessage(), "A size target allocated by Fisher information needs calibration inputs");
            Assert.assertTrue(BitAllocationTest.compressedWidths(model.getBlock()).isEmpty());
        }
    }
}
