package ai.djl.jlcm.allocation;

import ai.djl.Model;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.export.Manifest;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.util.Pair;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public class BitAllocationTest {

    private static final Shape INPUT = new Shape(4, 1, 8, 8);

    /** Conv + BatchNorm, then Linear layers of several sizes, one of them held twice. */
    private static Model model() {
        Model model = Model.newInstance("alloc", "PyTorch");
        Linear shared = Linear.builder().setUnits(32).build();
        model.setBlock(
                new SequentialBlock()
                        .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(8).optStride(new Shape(2, 2)).optPadding(new Shape(1, 1)).build())
                        .add(BatchNorm.builder().build())
                        .add(Activation.reluBlock())
                        .add(Blocks.batchFlattenBlock())
                        .add(Linear.builder().setUnits(32).build())
                        .add(Activation.reluBlock())
                        .add(shared)
                        .add(Activation.reluBlock())
                        .add(shared)
                        .add(Linear.builder().setUnits(10).build()));
        model.getNDManager().getEngine().setRandomSeed(7);
        model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, INPUT);
        return model;
    }

    private static long parameterElements(Block root) {
        long n = 0;
        for (Pair<String, Parameter> p : root.getParameters()) {
            n += p.getValue().getArray().size();
        }
        return n;
    }

    /** The index width of each codebook block of a tree, by path. */
    static Map<String, Integer> compressedWidths(Block root) {
        Map<String, Integer> out = new HashMap<>();
        BlockTree.of(root).blocks().forEach((path, b) -> {
            if (b instanceof CodebookBlock) {
                out.put(path, ((CodebookBlock) b).getCodebookWeight().getBits());
            }
        });
        return out;
    }

    private static CompressionPlan plan(Method method) {
        return CompressionPlan.of(LayerSettings.builder().optMethod(method).optGroups(2).optSteps(3).build());
    }

    private static void assertMeetsTarget(Method method, double target, Path dir) throws Exception {
        try (Model model = model(); NDManager m = model.getNDManager().newSubManager()) {
            long floatParameters = parameterElements(model.getBlock());
            Assert.assertEquals(ModelSize.of(model.getBlock()).parameterCount(), floatParameters);
            Allocation allocation = BitAllocation.allocate(model.getBlock(), plan(method), target);
            List<NDList> calibration = List.of(new NDList(m.randomNormal(INPUT)), new NDList(m.randomNormal(INPUT)));
            Jlcm.builder().optPlan(plan(method)).optTargetBitsPerWeight(target).build().compress(model, calibration);

            ModelSize size = ModelSize.of(model.getBlock());
            Assert.assertEquals(size.parameterCount(), floatParameters);
            Assert.assertEquals(compressedWidths(model.getBlock()), allocation.bits());
            Assert.assertTrue(size.modelBitsPerWeight() <= target, method + ": " + size.modelBitsPerWeight());
            Assert.assertTrue(size.modelBitsPerWeight() > target - 0.1, method + ": " + size.modelBitsPerWeight());
            if (method != Method.JLCM) {
                Assert.assertEquals(8 * size.storedBytes(), allocation.storedBits(), method.label());
            }
            Assert.assertTrue(8 * size.storedBytes() <= allocation.storedBits());

            ModelExporter.builder().build().export(model, dir);
            for (Manifest.Layer l : Manifest.read(dir.resolve(Manifest.FILE_NAME)).layers()) {
                Assert.assertEquals(l.bits(), (int) allocation.bits().get(l.path()), l.path());
            }
            Assert.assertEquals(Manifest.read(dir.resolve(Manifest.FILE_NAME)).layers().size(), allocation.bits().size());
        }
    }

    @Test
    public void kmeansMeetsTheTargetAsModelSizeMeasuresIt() throws Exception {
        Path dir = Files.createTempDirectory("alloc").resolve("kmeans");
        assertMeetsTarget(Method.KMEANS, 2.3, dir);
        Assert.assertTrue(compressedWidths(model().getBlock()).isEmpty());
    }

    @Test
    public void rtnMeetsTheTarget() throws Exception {
        assertMeetsTarget(Method.RTN, 4.5, Files.createTempDirectory("alloc").resolve("rtn"));
    }

    @Test
    public void jlcmMeetsTheTarget() throws Exception {
        assertMeetsTarget(Method.JLCM, 2.5, Files.createTempDirectory("alloc").resolve("jlcm"));
    }

    @Test
    public void mixesWidthsAndLeavesSkippedLayersInFloat() {
        try (Model model = model()) {
            CompressionPlan plan =
                    plan(Method.KMEANS).toBuilder().optForPath("Conv2d$", LayerSettings.builder().optSkip(true).build()).build();
            Allocation a = BitAllocation.allocate(model.getBlock(), plan, 3.1);
            Assert.assertFalse(a.bits().containsKey("01Conv2d"));
            Assert.assertEquals(a.bits().size(), 3);
            Assert.assertTrue(a.bits().values().stream().distinct().count() > 1, a.bits().toString());
            Assert.assertTrue(a.bitsPerWeight() <= 3.1);
        }
    }

    /**
     * With a floor of 2 bits no layer gets 1, where the same target without it gives one layer 1 bit;
     * the model still meets the target, and a target below every layer at 2 bits is refused naming
     * that minimum before anything changes.
     */
    @Test
    public void aMinimumWidthKeepsEveryLayerAtOrAboveIt() {
        double target = 2.9;
        try (Model model = model()) {
            Map<String, Integer> free = BitAllocation.allocate(model.getBlock(), plan(Method.KMEANS), target, null, null).bits();
            Assert.assertTrue(free.containsValue(1), free.toString());
            Allocation floored = BitAllocation.allocate(model.getBlock(), plan(Method.KMEANS), target, null, null, 2);
            Assert.assertTrue(floored.bits().values().stream().allMatch(b -> b >= 2), floored.bits().toString());
            Assert.assertEquals(floored.bits().keySet(), free.keySet());
            Assert.assertTrue(floored.bitsPerWeight() <= target, "" + floored.bitsPerWeight());

            Jlcm.builder().optPlan(plan(Method.KMEANS)).optTargetBitsPerWeight(target).optMinBits(2).build().compress(model, List.of());
            Assert.assertEquals(compressedWidths(model.getBlock()), floored.bits());
            Assert.assertTrue(ModelSize.of(model.getBlock()).modelBitsPerWeight() <= target);
        }
        try (Model model = model()) {
            IllegalArgumentException e =
                    Assert.expectThrows(
                            IllegalArgumentException.class,
                            () -> Jlcm.builder().optPlan(plan(Method.KMEANS)).optTargetBitsPerWeight(1.5).optMinBits(2).build().compress(model, List.of()));
            Assert.assertTrue(e.getMessage().contains("at 2 bits"), e.getMessage());
            Assert.assertTrue(compressedWidths(model.getBlock()).isEmpty());
        }
        Assert.expectThrows(IllegalArgumentException.class, () -> Jlcm.builder().optMinBits(0));
        Assert.expectThrows(IllegalArgumentException.class, () -> Jlcm.builder().optMinBits(9));
    }

    @Test
    public void refusesAnInfeasibleTargetNamingTheMinimum() {
        try (Model model = model()) {
            IllegalArgumentException e =
                    Assert.expectThrows(
                            IllegalArgumentException.class,
                            () -> Jlcm.builder().optPlan(plan(Method.KMEANS)).optTargetBitsPerWeight(0.5).build().compress(model, List.of()));
            Assert.assertTrue(e.getMessage().startsWith("target 0.5 bits/weight is below the smallest this model can reach: 1."), e.getMessage());
            Assert.assertTrue(compressedWidths(model.getBlock()).isEmpty());
        }
        Assert.expectThrows(IllegalArgumentException.class, () -> Jlcm.builder().optTargetBitsPerWeight(-1));
    }
}
