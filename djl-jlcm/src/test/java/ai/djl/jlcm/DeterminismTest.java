package ai.djl.jlcm;

import ai.djl.Model;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
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

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** In deterministic mode the same seed and settings give byte-identical model directories. */
public class DeterminismTest {

    private static Path compressAndExport(Path dir) throws Exception {
        try (Model model = Model.newInstance("det", "PyTorch");
                NDManager data = NDManager.newBaseManager()) {
            model.setBlock(
                    new SequentialBlock()
                            .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(8).build())
                            .add(Activation.reluBlock())
                            .add(Blocks.batchFlattenBlock())
                            .add(Linear.builder().setUnits(256).build())
                            .add(Activation.reluBlock())
                            .add(Linear.builder().setUnits(10).build()));
            data.getEngine().setRandomSeed(11);
            model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 10, 10));
            model.getBlock().getParameters().values().forEach(p -> {
                NDArray a = p.getArray();
                a.set(data.randomNormal(a.getShape()).mul(0.3f).toFloatArray());
            });
            List<NDList> calibration = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                calibration.add(new NDList(data.randomNormal(new Shape(128, 1, 10, 10))));
            }
            Jlcm.builder().optPlan(CompressionPlan.of(LayerSettings.builder().optSeed(5).build())).optBits(2).optGroups(2).optSteps(30).optDeterministic(true).build().compress(model, calibration);
            ModelExporter.builder().build().export(model, dir);
        }
        return dir;
    }

    private static List<String> files(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    @Test
    public void theSameSeedGivesByteIdenticalFiles() throws Exception {
        Path root = Files.createTempDirectory("jlcm-det");
        Path a = compressAndExport(root.resolve("a"));
        Path b = compressAndExport(root.resolve("b"));
        Assert.assertEquals(files(a), files(b));
        for (String name : files(a)) {
            Assert.assertEquals(Files.readAllBytes(b.resolve(name)), Files.readAllBytes(a.resolve(name)), name);
        }
    }
}
