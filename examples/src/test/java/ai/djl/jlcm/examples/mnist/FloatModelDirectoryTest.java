package ai.djl.jlcm.examples.mnist;

import ai.djl.Model;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.translate.NoopTranslator;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;

public class FloatModelDirectoryTest {

    private static final String FACTORY = MnistCnnFactory.class.getName();

    private static float[] viaCriteria(Path dir, NDArray image) throws Exception {
        try (ZooModel<NDList, NDList> m =
                Criteria.builder()
                        .setTypes(NDList.class, NDList.class)
                        .optModelPath(dir)
                        .optTranslator(new NoopTranslator())
                        .build()
                        .loadModel()) {
            return m.newPredictor().predict(new NDList(image)).head().toFloatArray();
        }
    }

    @Test
    public void aCachedFloatModelIsADjlModelDirectoryAndOldCachesAreCompleted() throws Exception {
        Path root = Files.createTempDirectory("jlcm-float-dir");
        try (Model model = Model.newInstance(MnistTraining.MODEL_NAME);
                NDManager data = NDManager.newBaseManager()) {
            model.setBlock(MnistCnn.build());
            model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 28, 28));
            NDArray image = data.randomUniform(0, 1, new Shape(2, 1, 28, 28));
            float[] want =
                    model.getBlock().forward(new ParameterStore(data, false), new NDList(image), false).head().toFloatArray();

            Path saved = root.resolve("new");
            Assert.assertFalse(FloatModelDirectory.exists(saved, MnistTraining.MODEL_NAME, FACTORY));
            FloatModelDirectory.save(model, saved, MnistTraining.MODEL_NAME, FACTORY);
            Assert.assertTrue(Files.readString(saved.resolve("serving.properties")).contains("blockFactory=" + FACTORY));
            Assert.assertEquals(viaCriteria(saved, image), want);

            // a cache written before serving.properties existed: bare parameters, completed on first use
            Path old = root.resolve("old");
            model.save(old, MnistTraining.MODEL_NAME);
            Assert.assertTrue(FloatModelDirectory.exists(old, MnistTraining.MODEL_NAME, FACTORY));
            try (var files = Files.list(old)) {
                Assert.assertEquals(files.count(), 2, "the parameters and serving.properties, no temporary file");
            }
            Assert.assertEquals(viaCriteria(old, image), want);
        } finally {
            RegistryFetcher.deleteRecursively(root);
        }
    }
}
