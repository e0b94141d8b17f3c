package ai.djl.jlcm.learn;

import ai.djl.Model;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.export.Manifest;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.nn.CodebookConvolution;
import ai.djl.jlcm.nn.CodebookLinear;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.ReplacedLayer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.translate.NoopTranslator;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public class SequentialCompressorTest {

    private static SequentialBlock net() {
        return new SequentialBlock()
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(8).optStride(new Shape(2, 2)).build())
                .add(Activation.reluBlock())
                .add(Blocks.batchFlattenBlock())
                .add(Linear.builder().setUnits(32).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(10).build());
    }

    private static List<NDList> calibration(NDManager m) {
        List<NDList> batches = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            batches.add(new NDList(m.randomNormal(new Shape(32, 1, 12, 12))));
        }
        return batches;
    }

    @Test
    public void captureReturnsWhatAPlainForwardPassFeedsTheLayer() {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock net = net();
            net.initialize(m, DataType.FLOAT32, new Shape(1, 1, 12, 12));
            List<NDList> data = calibration(m);
            List<NDArray> captured =
                    SequentialCompressor.record(net, "04Linear", net, data, m);
            Assert.assertEquals(captured.size(), data.size());
            ParameterStore ps = new ParameterStore(m, false);
            for (int i = 0; i < data.size(); i++) {
                NDList x = data.get(i);
                for (int b = 0; b < 3; b++) {
                    x = net.getChildren().valueAt(b).forward(ps, x, false);
                }
                Assert.assertEquals(captured.get(i).toFloatArray(), x.singletonOrThrow().toFloatArray());
            }
            Assert.assertTrue(net.getChildren().valueAt(3) instanceof Linear, "the layer is back in place");
            Assert.assertEquals(net.getChildren().valueAt(3).getClass(), Linear.class);
        }
    }

    @Test
    public void compressesEveryLayerAndTheArtifactReloads() throws Exception {
        Path dir = Files.createTempDirectory("jlcm-seq").resolve("model");
        try (Model model = Model.newInstance("seq", "PyTorch")) {
            model.setBlock(net());
            model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 12, 12));
            NDManager m = model.getNDManager();
            List<NDList> data = calibration(m);
            JlcmReport report = Jlcm.builder().optBits(2).optGroups(4).optSteps(30).build().compress(model, data);

            Assert.assertEquals(report.layers().size(), 3);
            for (LayerReport l : report.layers()) {
                Assert.assertTrue(l.learnedError() <= l.initError(), l.toString());
                Assert.assertTrue(l.bitsPerWeight() >= 2, l.toString());
            }
            Assert.assertTrue(model.getBlock().getChildren().valueAt(0) instanceof CodebookConvolution);
            Assert.assertTrue(model.getBlock().getChildren().valueAt(3) instanceof CodebookLinear);
            Assert.assertTrue(model.getBlock().getChildren().valueAt(5) instanceof CodebookLinear);

            NDArray x = m.randomNormal(new Shape(3, 1, 12, 12));
            float[] before =
                    model.getBlock().forward(new ParameterStore(m, false), new NDList(x), false)
                            .singletonOrThrow().toFloatArray();
            ModelExporter.builder().build().export(model, dir);
            try (ZooModel<NDList, NDList> loaded =
                    Criteria.builder().setTypes(NDList.class, NDList.class).optModelPath(dir)
                            .optTranslator(new NoopTranslator()).build().loadModel()) {
                float[] after = loaded.newPredictor().predict(new NDList(x)).singletonOrThrow().toFloatArray();
                Assert.assertEquals(after, before, 0f);
            }
        }
    }

    @Test
    public void aReconstructionUnitLearnsItsLayersTogether() {
        try (Model model = Model.newInstance("unit", "PyTorch")) {
            SequentialBlock net = net();
            model.setBlock(net);
            net.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 12, 12));
            JlcmReport report =
                    Jlcm.builder()
                            .optBits(2)
                            .optSteps(40)
                            .optReconstructionUnits(String::isEmpty)
                            .build()
                            .compress(model, calibration(model.getNDManager()));
            Assert.assertEquals(report.layers().size(), 3);
            LayerReport first = report.layers().get(0);
            for (LayerReport l : report.layers()) {
                // one unit: the network's output error, shared by its layers
                Assert.assertEquals(l.initError(), first.initError());
                Assert.assertEquals(l.learnedError(), first.learnedError());
            }
            Assert.assertTrue(first.learnedError() < 0.9 * first.initError(), first.toString());
            Assert.assertTrue(net.getChildren().valueAt(0) instanceof CodebookConvolution);
            Assert.assertTrue(net.getChildren().valueAt(5) instanceof CodebookLinear);
        }
    }

    /** Per-type and per-path settings of a plan reach the exported manifest, a data-free method included. */
    @Test
    public void aPlansPerPathBitsAndMethodsReachTheManifest() throws Exception {
        Path dir = Files.createTempDirectory("jlcm-plan").resolve("model");
        try (Model model = Model.newInstance("plan", "PyTorch")) {
            SequentialBlock net = net();
            model.setBlock(net);
            net.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 12, 12));
            CompressionPlan plan =
                    CompressionPlan.builder()
                            .optDefaults(LayerSettings.builder().optBits(2).optGroups(2).optSteps(3).build())
                            .optForType(Conv2d.class, LayerSettings.builder().optBits(3).build())
                            .optForPath("^06Linear$", LayerSettings.builder().optMethod(Method.RTN).optBits(5).build())
                            .build();
            JlcmReport report = Jlcm.builder().optPlan(plan).build().compress(model, calibration(model.getNDManager()));
            Assert.assertEquals(report.layers().stream().map(LayerReport::path).toList(), List.of("01Conv2d", "04Linear"));
            Assert.assertEquals(report.dataFree().stream().map(ReplacedLayer::path).toList(), List.of("06Linear"));
            Assert.assertEquals(report.layerCount(), 3);
            ModelExporter.builder().build().export(model, dir);
        }
        Map<String, Manifest.Layer> layers = new HashMap<>();
        for (Manifest.Layer l : Manifest.read(dir.resolve(Manifest.FILE_NAME)).layers()) {
            layers.put(l.path(), l);
        }
        Assert.assertEquals(layers.get("01Conv2d").bits(), 3);
        Assert.assertEquals(layers.get("01Conv2d").groups(), 2);
        Assert.assertEquals(layers.get("04Linear").bits(), 2);
        Assert.assertEquals(layers.get("06Linear").bits(), 5);
        Assert.assertEquals(layers.get("06Linear").groups(), 10, "RTN: one codebook per output channel");
    }

    @Test
    public void emptyCalibrationOrSelectionIsAnError() {
        try (Model model = Model.newInstance("seq", "PyTorch")) {
            model.setBlock(net());
            model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 12, 12));
            IllegalArgumentException e =
                    Assert.expectThrows(
                            IllegalArgumentException.class,
                            () -> Jlcm.builder().build().compress(model, List.of()));
            Assert.assertTrue(e.getMessage().contains("calibration"), e.getMessage());
            e =
                    Assert.expectThrows(
                            IllegalArgumentException.class,
                            () -> Jlcm.builder().optPlan(CompressionPlan.of(LayerSettings.builder().optSkip(true).build())).build()
                                    .compress(model, calibration(model.getNDManager())));
            Assert.assertTrue(e.getMessage().contains("matches no layer"), e.getMessage());
            Assert.assertEquals(model.getBlock().getChildren().valueAt(0).getClass(), Conv2d.class);
        }
    }
}
