package ai.djl.jlcm.examples.mnist;

import ai.djl.Model;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;

/** The MNIST CNN's compressed artifact is as small as its stored parameters say. */
public class MnistCnnArtifactTest {

    @Test
    public void twoBitParamsFileIsTenTimesSmallerAndMatchesStoredBytes() throws Exception {
        Path root = Files.createTempDirectory("jlcm-cnn");
        try (Model model = Model.newInstance(MnistTraining.MODEL_NAME, "PyTorch")) {
            model.setBlock(MnistCnn.build());
            model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1).addAll(MnistCnn.IMAGE_SHAPE));
            model.save(root.resolve("float"), MnistTraining.MODEL_NAME);
            long floatBytes = Files.size(root.resolve("float").resolve(MnistTraining.MODEL_NAME + "-0000.params"));

            CodebookTransformer.builder()
                    .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(1).build()))
                    .optBits(2)
                    .build()
                    .transform(model.getBlock());
            ModelSize size = ModelExporter.builder().build().export(model, root.resolve("2bit"));
            long fileBytes = Files.size(root.resolve("2bit").resolve(MnistTraining.MODEL_NAME + "-0000.params"));

            Assert.assertTrue(fileBytes <= 1.02 * size.storedBytes() + 65536, fileBytes + " vs " + size.storedBytes());
            Assert.assertTrue(floatBytes >= 10 * fileBytes, floatBytes + " vs " + fileBytes);
            Assert.assertTrue(size.bitsPerWeight() >= 2 && size.bitsPerWeight() < 2.1, "bits/weight " + size.bitsPerWeight());
        }
    }
}
