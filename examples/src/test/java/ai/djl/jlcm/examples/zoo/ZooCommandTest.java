package ai.djl.jlcm.examples.zoo;

import ai.djl.Model;
import ai.djl.jlcm.examples.cli.AllocationOptions;
import ai.djl.jlcm.examples.cli.CliRun;
import ai.djl.jlcm.examples.cli.ModelDirectories;
import ai.djl.jlcm.examples.data.MnistData;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.nn.CodebookLinear;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.XavierInitializer;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;

public class ZooCommandTest {

    private static String[] run(int expectedCode, String... args) {
        return CliRun.run(expectedCode, args);
    }

    @Test
    public void badArgumentsFailInOneLineBeforeAnyWork() throws Exception {
        Path cache = Files.createTempDirectory("zoo-cache");
        String[][] cases = {
            {"zoo", "--dataset", "cifar", "--cache", cache.toString()},
            {"zoo", "--models", "mlp,vgg", "--cache", cache.toString()},
            {"zoo", "--bits", "0,2", "--cache", cache.toString()},
            {"zoo", "--bits", "9", "--cache", cache.toString()},
            {"zoo", "--epochs", "0", "--cache", cache.toString()},
            {"zoo", "--target-bits", "2,-1", "--cache", cache.toString()},
            {"zoo", "--methods", "RTN,OBQ+BN", "--cache", cache.toString()},
        };
        for (String[] c : cases) {
            String[] r = run(1, c);
            Assert.assertEquals(r[0], "", String.join(" ", c));
            Assert.assertEquals(r[1].strip().lines().count(), 1L, r[1]);
            Assert.assertTrue(r[1].startsWith("jlcm zoo: --"), r[1]);
        }
        String[] r = run(2, "zoo", "--bits", "x");
        Assert.assertEquals(r[1].strip().lines().count(), 1L, r[1]);
        try (var files = Files.list(cache)) {
            Assert.assertEquals(files.count(), 0L, "nothing downloaded or trained");
        }
    }

    @Test
    public void gptqMethodsAreAcceptedWithAndWithoutBatchNormReestimation() {
        ZooCommand command = new ZooCommand();
        command.methods = java.util.List.of("GPTQ", "gptq+bn", "GPTQ-CODEBOOK+BN", "JLCM");
        Assert.assertEquals(command.plan().methods(), java.util.List.of("GPTQ", "GPTQ+BN", "GPTQ-CODEBOOK+BN", "JLCM"));
        Assert.assertTrue(ZooCommand.METHODS.containsAll(java.util.List.of("GPTQ", "GPTQ-CODEBOOK")));
    }

    @Test
    public void mlpAndLenetMapImagesToTenLogits() {
        try (NDManager manager = NDManager.newBaseManager()) {
            for (ZooArchitecture arch : new ZooArchitecture[] {ZooArchitecture.MLP, ZooArchitecture.LENET}) {
                Block block = arch.build();
                block.initialize(manager, DataType.FLOAT32, new Shape(2, 1, 28, 28));
                Shape[] outShapes = block.getOutputShapes(new Shape[] {new Shape(2, 1, 28, 28)});
                Assert.assertEquals(outShapes[0], new Shape(2, 10), arch.label());
            }
            Block mlp = ZooArchitecture.mlp();
            mlp.initialize(manager, DataType.FLOAT32, new Shape(1, 1, 28, 28));
            java.util.List<Shape> weights = new java.util.ArrayList<>();
            mlp.getParameters().forEach(p -> {
                if (p.getKey().endsWith("_weight")) {
                    weights.add(p.getValue().getArray().getShape());
                }
            });
            Assert.assertEquals(weights, java.util.List.of(new Shape(256, 784), new Shape(128, 256), new Shape(10, 128)));
        }
        Assert.assertEquals(ZooArchitecture.of("ResNet"), ZooArchitecture.RESNET);
        Assert.assertThrows(IllegalArgumentException.class, () -> ZooArchitecture.of("vgg"));
    }

    @Test
    public void jlcmScaledLearnsScaledCodebooks() {
        ZooCommand command = new ZooCommand();
        command.methods = java.util.List.of("jlcm-scaled", "JLCM");
        Assert.assertEquals(command.plan().methods(), java.util.List.of("JLCM-SCALED", "JLCM"));
        java.util.Random random = new java.util.Random(5);
        float[] images = new float[256 * 784];
        for (int i = 0; i < images.length; i++) {
            images[i] = random.nextFloat();
        }
        MnistData data = new MnistData("noise", 28, 28, images, new int[256], new float[784], new int[1]);
        for (String method : new String[] {"JLCM-SCALED", "JLCM"}) {
            try (Model model = Model.newInstance(ZooTraining.MODEL_NAME)) {
                Block block = ZooArchitecture.MLP.build();
                block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 28, 28));
                model.setBlock(block);
                ZooCommand.compress(model, method, 1, null, new AllocationOptions(), data);
                java.util.List<CodebookMode> modes = new java.util.ArrayList<>();
                for (Block b : BlockTree.of(block).blocks().values()) {
                    if (b instanceof CodebookLinear) {
                        modes.add(((CodebookLinear) b).getCodebookWeight().getMode());
                    }
                }
                CodebookMode expected = method.equals("JLCM") ? CodebookMode.MULTI : CodebookMode.SCALED;
                Assert.assertEquals(modes, java.util.Collections.nCopies(3, expected), method);
            }
        }
    }

    @Test
    public void aTargetAllocatesMixedWidthsWithinIt() {
        try (Model model = Model.newInstance(ZooTraining.MODEL_NAME)) {
            Block block = ZooArchitecture.MLP.build();
            block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 28, 28));
            model.setBlock(block);
            ZooCommand.compress(model, "KMEANS-GROUPED", 0, 2.5, new AllocationOptions(), null);
            ModelSize size = ModelSize.of(block);
            Assert.assertEquals(size.compressedLayers(), 3);
            Assert.assertTrue(size.modelBitsPerWeight() <= 2.5 && size.modelBitsPerWeight() > 2.3, size.toString());
        }
        ZooRow row = new ZooRow("mlp", "JLCM", 0, 2.5, 2.4, 0.9, 0.95, 1, null);
        Assert.assertTrue(new ZooReport("mnist", java.util.List.of(row)).table().contains("| <=2.5 |"));
        Assert.assertTrue(new ZooReport("mnist", java.util.List.of(row)).json().toString().contains("\"target_bits_per_weight\":2.5"));
    }

    @Test
    public void zooNetworksAcceptMnistImages() {
        try (NDManager manager = NDManager.newBaseManager()) {
            for (ZooArchitecture arch : new ZooArchitecture[] {ZooArchitecture.RESNET, ZooArchitecture.MOBILENETV2}) {
                Block block = arch.build();
                block.initialize(manager, DataType.FLOAT32, new Shape(2, 1, 28, 28));
                NDArray x = manager.randomUniform(0, 1, new Shape(2, 1, 28, 28));
                NDArray y = block.forward(new ParameterStore(manager, false), new NDList(x), false).head();
                Assert.assertEquals(y.getShape(), new Shape(2, 10), arch.label());
            }
        }
    }

    @Test
    public void resnet20KmeansFourBitsRoundTripsThroughTheFactory() throws Exception {
        Path dir = Files.createTempDirectory("zoo-resnet").resolve("model");
        try (Model model = Model.newInstance(ZooTraining.MODEL_NAME)) {
            Block block = ResNet20Factory.build();
            block.setInitializer(new XavierInitializer(), Parameter.Type.WEIGHT);
            block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 28, 28));
            model.setBlock(block);
            ZooCommand.compress(model, "KMEANS-GROUPED", 4, null, new AllocationOptions(), null);
            ZooCommand.export(model, ZooArchitecture.RESNET, dir);
            Assert.assertTrue(
                    Files.readString(dir.resolve("jlcm.json")).contains(ResNet20Factory.class.getName()));
            NDManager m = model.getNDManager();
            NDArray x = m.randomUniform(0, 1, new Shape(4, 1, 28, 28));
            float[] expected =
                    block.forward(new ParameterStore(m, false), new NDList(x), false).head().toFloatArray();
            Assert.assertEquals(expected.length, 40);
            try (ZooModel<NDList, NDList> reloaded = ModelDirectories.load(dir);
                    NDManager rm = reloaded.getNDManager().newSubManager()) {
                NDArray y = rm.create(x.toFloatArray(), x.getShape());
                float[] actual =
                        reloaded.getBlock().forward(new ParameterStore(rm, false), new NDList(y), false).head().toFloatArray();
                Assert.assertEquals(actual, expected);
            }
        }
    }
}
