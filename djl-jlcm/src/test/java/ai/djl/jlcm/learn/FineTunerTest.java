package ai.djl.jlcm.learn;

import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class FineTunerTest {

    /** A 24 → 64 → 64 → 10 MLP with seeded weights. */
    private static SequentialBlock mlp(NDManager m) {
        m.getEngine().setRandomSeed(11);
        SequentialBlock net =
                new SequentialBlock()
                        .add(Linear.builder().setUnits(64).build())
                        .add(Activation::relu)
                        .add(Linear.builder().setUnits(64).build())
                        .add(Activation::relu)
                        .add(Linear.builder().setUnits(10).build());
        net.setInitializer(new NormalInitializer(0.3f), ai.djl.nn.Parameter.Type.WEIGHT);
        net.initialize(m, DataType.FLOAT32, new Shape(16, 24));
        return net;
    }

    private static List<NDList> batches(NDManager m, int count, int seed) {
        m.getEngine().setRandomSeed(seed);
        List<NDList> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(new NDList(m.randomNormal(new Shape(16, 24))));
        }
        return out;
    }

    private static Map<String, CompressedWeight> weights(Block root) {
        Map<String, CompressedWeight> out = new LinkedHashMap<>();
        BlockTree.of(root).blocks().forEach((path, b) -> {
            if (b instanceof CodebookBlock) {
                out.put(path, ((CodebookBlock) b).getCodebookWeight().read());
            }
        });
        return out;
    }

    private static JlcmReport kmeans(Block net, List<NDList> calibration, NDManager m, FineTuning fineTune) {
        return Jlcm.builder()
                .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).build()))
                .optBits(2)
                .optGroups(2)
                .optFineTune(fineTune)
                .build()
                .compress(net, calibration, m);
    }

    /**
     * Two-bit k-means, then fine-tuning against the float model's logits: the calibration KL drops
     * by more than half, the KL on inputs it never saw drops too, the mappings stay, and the report's
     * losses are the model's.
     */
    @Test
    public void fineTuningBringsTheOutputsNearerTheFloatModelsWithTheMappingsFixed() {
        try (NDManager m = NDManager.newBaseManager()) {
            List<NDList> calibration = batches(m, 4, 3);
            List<NDList> heldOut = batches(m, 4, 5);
            SequentialBlock floatNet = mlp(m);
            List<NDList> floatCal = FineTuner.outputs(floatNet, calibration, m);
            List<NDList> floatHeld = FineTuner.outputs(floatNet, heldOut, m);

            SequentialBlock plain = mlp(m);
            Assert.assertNull(kmeans(plain, calibration, m, null).fineTune());
            SequentialBlock tuned = mlp(m);
            JlcmReport report = kmeans(tuned, calibration, m, FineTuning.builder().setSteps(60).optLearningRate(3e-3f).build());

            FineTuneReport ft = report.fineTune();
            Assert.assertEquals(ft.steps(), 60);
            Assert.assertFalse(ft.reverted());
            Assert.assertEquals(ft.codebookValues(), 3 * 2 * 4, "three layers, two codebooks of four codewords");
            Assert.assertEquals(ft.floatValues(), 64 + 64 + 10, "the biases");
            Assert.assertEquals(ft.lossBefore(), FineTuner.meanLoss(plain, calibration, floatCal, FineTuning.Loss.KL, m), 1e-5);
            Assert.assertEquals(ft.lossAfter(), FineTuner.meanLoss(tuned, calibration, floatCal, FineTuning.Loss.KL, m), 1e-5);
            Assert.assertTrue(ft.lossAfter() < 0.5 * ft.lossBefore(), ft.toString());
            double heldPlain = FineTuner.meanLoss(plain, heldOut, floatHeld, FineTuning.Loss.KL, m);
            double heldTuned = FineTuner.meanLoss(tuned, heldOut, floatHeld, FineTuning.Loss.KL, m);
            Assert.assertTrue(heldTuned < 0.8 * heldPlain, heldTuned + " vs " + heldPlain);

            Map<String, CompressedWeight> before = weights(plain);
            Map<String, CompressedWeight> after = weights(tuned);
            Assert.assertEquals(after.keySet(), before.keySet());
            boolean moved = false;
            for (String path : before.keySet()) {
                Assert.assertEquals(after.get(path).getIndices(), before.get(path).getIndices(), path);
                Assert.assertEquals(after.get(path).getGroupOf(), before.get(path).getGroupOf(), path);
                moved |= !java.util.Arrays.equals(after.get(path).getCodebooks(), before.get(path).getCodebooks());
            }
            Assert.assertTrue(moved, "some codebook learned");
            // the parameters are plain arrays again: an inference pass records no gradient
            NDArray y = tuned.forward(new ParameterStore(m, false), heldOut.get(0), false).head();
            Assert.assertFalse(y.hasGradient());
        }
    }

    /** Without the float parameters only codebooks move: every bias keeps its value. */
    @Test
    public void codebooksOnlyLeaveTheBiasesAlone() {
        try (NDManager m = NDManager.newBaseManager()) {
            List<NDList> calibration = batches(m, 2, 3);
            SequentialBlock plain = mlp(m);
            kmeans(plain, calibration, m, null);
            SequentialBlock tuned = mlp(m);
            FineTuneReport ft =
                    kmeans(tuned, calibration, m, FineTuning.builder().setSteps(10).optFloatParameters(false).optLoss(FineTuning.Loss.MSE).build())
                            .fineTune();
            Assert.assertEquals(ft.floatValues(), 0);
            Assert.assertTrue(ft.lossAfter() < ft.lossBefore(), ft.toString());
            for (int i : new int[] {0, 2, 4}) {
                Block a = plain.getChildren().get(i).getValue();
                Block b = tuned.getChildren().get(i).getValue();
                Assert.assertEquals(
                        b.getParameters().get("bias").getArray().toFloatArray(),
                        a.getParameters().get("bias").getArray().toFloatArray(),
                        "layer " + i);
            }
        }
    }

    /** Micro-batches of 3 (the last of 1) take the steps of whole batches of 16. */
    @Test
    public void microBatchesTakeTheStepsOfWholeBatches() {
        try (NDManager m = NDManager.newBaseManager()) {
            List<NDList> calibration = batches(m, 2, 3);
            List<SequentialBlock> nets = new ArrayList<>();
            for (int micro : new int[] {0, 3}) {
                SequentialBlock net = mlp(m);
                kmeans(net, calibration, m, FineTuning.builder().setSteps(6).optLearningRate(1e-2f).optMicroBatch(micro).build());
                nets.add(net);
            }
            Map<String, CompressedWeight> whole = weights(nets.get(0));
            Map<String, CompressedWeight> micro = weights(nets.get(1));
            for (String path : whole.keySet()) {
                Assert.assertEquals(micro.get(path).getCodebooks(), whole.get(path).getCodebooks(), 1e-4f, path);
            }
            for (int i : new int[] {0, 2, 4}) {
                Assert.assertEquals(
                        nets.get(1).getChildren().get(i).getValue().getParameters().get("bias").getArray().toFloatArray(),
                        nets.get(0).getChildren().get(i).getValue().getParameters().get("bias").getArray().toFloatArray(),
                        1e-4f,
                        "layer " + i);
            }
            Assert.assertFalse(
                    java.util.Arrays.equals(whole.values().iterator().next().getCodebooks(), weights(plain(m, calibration)).values().iterator().next().getCodebooks()),
                    "the steps moved the codebooks");
        }
    }

    /** Fine-tuning while the collector frees direct buffers takes exactly the steps it takes without. */
    @Test
    public void fineTuningUnderCollectionEqualsFineTuningWithout() {
        try (NDManager m = NDManager.newBaseManager()) {
            List<NDList> calibration = batches(m, 2, 3);
            FineTuning ft = FineTuning.builder().setSteps(30).optLearningRate(1e-2f).optMicroBatch(4).build();
            SequentialBlock quiet = mlp(m);
            kmeans(quiet, calibration, m, ft);
            SequentialBlock busy = mlp(m);
            try (ai.djl.jlcm.GcPressure pressure = ai.djl.jlcm.GcPressure.start()) {
                kmeans(busy, calibration, m, ft);
            }
            Map<String, CompressedWeight> a = weights(quiet);
            Map<String, CompressedWeight> b = weights(busy);
            for (String path : a.keySet()) {
                Assert.assertEquals(b.get(path).getCodebooks(), a.get(path).getCodebooks(), path);
            }
        }
    }

    /**
     * With one layer of three compressed, the two layers left float keep their dense weights (Adam at
     * the codebooks' rate would move all of them); their biases learn, and the calibration loss falls.
     */
    @Test
    public void denseWeightsOfLayersLeftFloatAreNotLearned() {
        try (NDManager m = NDManager.newBaseManager()) {
            List<NDList> calibration = batches(m, 2, 3);
            SequentialBlock reference = mlp(m);
            SequentialBlock tuned = mlp(m);
            CompressionPlan firstOnly =
                    CompressionPlan.builder()
                            .optDefaults(LayerSettings.builder().optMethod(Method.KMEANS).optBits(2).optGroups(2).optSkip(true).build())
                            .optForPath("^01Linear$", LayerSettings.builder().optSkip(false).build())
                            .build();
            FineTuneReport ft =
                    Jlcm.builder()
                            .optPlan(firstOnly)
                            .optFineTune(FineTuning.builder().setSteps(20).optLearningRate(3e-3f).build())
                            .build()
                            .compress(tuned, calibration, m)
                            .fineTune();
            Assert.assertEquals(weights(tuned).keySet(), java.util.Set.of("01Linear"));
            Assert.assertEquals(ft.floatValues(), 64 + 64 + 10, "the three biases, no dense weight");
            Assert.assertFalse(ft.reverted());
            Assert.assertTrue(ft.lossAfter() < ft.lossBefore(), ft.toString());
            boolean biasMoved = false;
            for (int i : new int[] {2, 4}) {
                Block a = reference.getChildren().get(i).getValue();
                Block b = tuned.getChildren().get(i).getValue();
                Assert.assertEquals(
                        b.getParameters().get("weight").getArray().toFloatArray(),
                        a.getParameters().get("weight").getArray().toFloatArray(),
                        "layer " + i);
                biasMoved |= !java.util.Arrays.equals(
                        b.getParameters().get("bias").getArray().toFloatArray(), a.getParameters().get("bias").getArray().toFloatArray());
            }
            Assert.assertTrue(biasMoved, "a float layer's bias learned");
        }
    }

    /**
     * A rate far too high ends with a higher calibration loss than the start: the start is put back,
     * every codebook and bias as the layer-wise pass left it, and the report says so.
     */
    @Test
    public void aRunThatEndsWorseKeepsItsStart() {
        try (NDManager m = NDManager.newBaseManager()) {
            List<NDList> calibration = batches(m, 2, 3);
            SequentialBlock start = plain(m, calibration);
            SequentialBlock tuned = mlp(m);
            FineTuneReport ft = kmeans(tuned, calibration, m, FineTuning.builder().setSteps(10).optLearningRate(10f).build()).fineTune();
            Assert.assertTrue(ft.reverted(), ft.toString());
            Assert.assertEquals(ft.lossAfter(), ft.lossBefore());
            List<NDList> floatOutputs = FineTuner.outputs(mlp(m), calibration, m);
            Assert.assertEquals(FineTuner.meanLoss(tuned, calibration, floatOutputs, FineTuning.Loss.KL, m), ft.lossBefore(), 1e-6);
            Map<String, CompressedWeight> a = weights(start);
            Map<String, CompressedWeight> b = weights(tuned);
            for (String path : a.keySet()) {
                Assert.assertEquals(b.get(path).getCodebooks(), a.get(path).getCodebooks(), path);
            }
            for (int i : new int[] {0, 2, 4}) {
                Assert.assertEquals(
                        tuned.getChildren().get(i).getValue().getParameters().get("bias").getArray().toFloatArray(),
                        start.getChildren().get(i).getValue().getParameters().get("bias").getArray().toFloatArray(),
                        "layer " + i);
            }
        }
    }

    private static SequentialBlock plain(NDManager m, List<NDList> calibration) {
        SequentialBlock net = mlp(m);
        kmeans(net, calibration, m, null);
        return net;
    }

    /** The arrays a step creates are freed: a run of 30 steps leaves as many arrays as one of 3. */
    @Test
    public void stepsLeaveNoArraysBehind() {
        int[] counts = new int[2];
        int[] steps = {3, 30};
        for (int r = 0; r < 2; r++) {
            try (NDManager m = NDManager.newBaseManager()) {
                List<NDList> calibration = batches(m, 2, 3);
                SequentialBlock net = mlp(m);
                kmeans(net, calibration, m, FineTuning.builder().setSteps(steps[r]).optMicroBatch(5).build());
                counts[r] = ((ai.djl.ndarray.BaseNDManager) m).getManagedArrays().size();
            }
        }
        Assert.assertEquals(counts[1], counts[0]);
    }

    @Test
    public void badSettingsAndInputsAreRefused() {
        Assert.expectThrows(IllegalStateException.class, () -> FineTuning.builder().build());
        Assert.expectThrows(IllegalArgumentException.class, () -> FineTuning.builder().setSteps(0));
        Assert.expectThrows(IllegalArgumentException.class, () -> FineTuning.builder().optLearningRate(Float.NaN));
        Assert.expectThrows(IllegalArgumentException.class, () -> FineTuning.builder().optMicroBatch(-1));
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock net = mlp(m);
            FineTuning ft = FineTuning.builder().setSteps(1).build();
            IllegalArgumentException e = Assert.expectThrows(IllegalArgumentException.class, () -> kmeans(net, List.of(), m, ft));
            Assert.assertTrue(e.getMessage().contains("calibration"), e.getMessage());
            List<NDList> calibration = batches(m, 2, 3);
            e = Assert.expectThrows(
                    IllegalArgumentException.class, () -> FineTuner.run(net, calibration, calibration.subList(0, 1), ft, m, null));
            Assert.assertTrue(e.getMessage().contains("2 batches, 1 outputs"), e.getMessage());
            e = Assert.expectThrows(IllegalArgumentException.class, () -> FineTuner.run(net, calibration, calibration, ft, m, null));
            Assert.assertTrue(e.getMessage().contains("no codebook block"), e.getMessage());
        }
    }
}
