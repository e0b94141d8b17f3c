package ai.djl.jlcm;

import ai.djl.Model;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Stage-by-stage compression gives exactly the weights of recording every layer from the input. */
public class StagedCompressionTest {

    /** conv → relu → flatten → (linear → relu → linear, one stage of two layers) → relu → linear. */
    private static ai.djl.jlcm.learn.JlcmReport lastReport;

    private static Map<String, CompressedWeight> compress(boolean staged, String mappingOrUnit) {
        try (Model model = Model.newInstance("staged", "PyTorch");
                NDManager data = NDManager.newBaseManager()) {
            model.setBlock(
                    new SequentialBlock()
                            .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(6).build())
                            .add(Activation.reluBlock())
                            .add(Blocks.batchFlattenBlock())
                            .add(new SequentialBlock()
                                    .add(Linear.builder().setUnits(40).build())
                                    .add(Activation.reluBlock())
                                    .add(Linear.builder().setUnits(30).build()))
                            .add(Activation.reluBlock())
                            .add(Linear.builder().setUnits(10).build()));
            data.getEngine().setRandomSeed(3);
            model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 8, 8));
            model.getBlock().getParameters().values().forEach(p -> {
                NDArray a = p.getArray();
                a.set(data.randomNormal(a.getShape()).mul(0.3f).toFloatArray());
            });
            List<NDList> calibration = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                calibration.add(new NDList(data.randomNormal(new Shape(12, 1, 8, 8))));
            }
            Jlcm.Builder b = Jlcm.builder().optBits(2).optGroups(2).optSteps(20).optStaged(staged).optDeterministic(true);
            if ("unit".equals(mappingOrUnit)) {
                b.optReconstructionUnits("04SequentialBlock"::equals);
            }
            lastReport = b.build().compress(model, calibration);
            Map<String, CompressedWeight> weights = new LinkedHashMap<>();
            for (Map.Entry<String, Block> e : BlockTree.of(model.getBlock()).blocks().entrySet()) {
                if (e.getValue() instanceof CodebookBlock) {
                    weights.put(e.getKey(), ((CodebookBlock) e.getValue()).getCodebookWeight().read());
                }
            }
            return weights;
        }
    }

    private static void assertSame(Map<String, CompressedWeight> a, Map<String, CompressedWeight> b) {
        Assert.assertEquals(a.keySet(), b.keySet());
        Assert.assertEquals(a.size(), 4);
        for (String path : a.keySet()) {
            Assert.assertEquals(a.get(path).getIndices(), b.get(path).getIndices(), path);
            Assert.assertEquals(a.get(path).getCodebooks(), b.get(path).getCodebooks(), path);
            Assert.assertEquals(a.get(path).getGroupOf(), b.get(path).getGroupOf(), path);
        }
    }

    @Test
    public void stagedAndWholeNetworkRecordingGiveTheSameWeights() {
        assertSame(compress(true, "layers"), compress(false, "layers"));
    }

    @Test
    public void aUnitInsideAStageGivesTheSameWeightsStaged() {
        assertSame(compress(true, "unit"), compress(false, "unit"));
    }

    @Test
    public void theReportHasEveryStageWithItsLayers() {
        compress(true, "layers");
        List<Integer> layers = new ArrayList<>();
        for (ai.djl.jlcm.learn.StageReport s : lastReport.stages()) {
            layers.add(s.layers());
            Assert.assertTrue(s.recordSeconds() >= 0 && s.learnSeconds() >= 0 && s.propagateSeconds() >= 0, s.toString());
        }
        Assert.assertEquals(layers, List.of(1, 0, 0, 2, 0, 1));
        Assert.assertEquals(lastReport.stages().get(3).name(), "04SequentialBlock");
        Assert.assertTrue(lastReport.stages().get(5).peakResidentBytes() > 0);
    }
}
