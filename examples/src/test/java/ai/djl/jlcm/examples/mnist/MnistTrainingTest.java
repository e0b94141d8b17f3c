package ai.djl.jlcm.examples.mnist;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.jlcm.examples.data.MnistData;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Parameter;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

public class MnistTrainingTest {

    /** An easy 28x28 task: class c is a bright horizontal bar at rows 2c+4..2c+5, plus noise. */
    private static MnistData stripes(int train, int test) {
        Random random = new Random(3);
        float[] trainX = new float[train * 784];
        int[] trainY = new int[train];
        float[] testX = new float[test * 784];
        int[] testY = new int[test];
        fill(random, trainX, trainY);
        fill(random, testX, testY);
        return new MnistData("stripes", 28, 28, trainX, trainY, testX, testY);
    }

    private static void fill(Random random, float[] x, int[] y) {
        for (int i = 0; i < y.length; i++) {
            int c = i % 10;
            y[i] = c;
            for (int p = 0; p < 784; p++) {
                int row = p / 28;
                float v = random.nextFloat() * 0.3f;
                if (row == 2 * c + 4 || row == 2 * c + 5) {
                    v += 0.7f;
                }
                x[i * 784 + p] = v;
            }
        }
    }

    @Test
    public void trainsCachesAndReloads()
            throws IOException, MalformedModelException, ModelNotFoundException {
        MnistData data = stripes(640, 200);
        Path cache = Files.createTempDirectory("training-test");
        try {
            Path dir = MnistTraining.modelDir(cache, "stripes");
            Assert.assertEquals(dir, cache.resolve("models/stripes-cnn-" + MnistTraining.VERSION));
            float trained;
            Map<String, float[]> weights = new java.util.HashMap<>();
            try (Model model = MnistTraining.trainOrLoad(data, "stripes", cache)) {
                trained = MnistTraining.accuracy(model, data);
                for (var e : model.getBlock().getParameters()) {
                    weights.put(e.getKey(), e.getValue().getArray().toFloatArray());
                }
            }
            Assert.assertTrue(trained > 0.9f, "accuracy on an easy task: " + trained);
            Assert.assertTrue(
                    Files.isRegularFile(
                            dir.resolve(
                                    MnistTraining.MODEL_NAME
                                            + "-000"
                                            + MnistTraining.EPOCHS
                                            + ".params")));
            try (Stream<Path> left = Files.list(dir.getParent())) {
                Assert.assertEquals(left.count(), 1L, "no temporary directory left behind");
            }

            // second call: loaded from the cache, same parameters, same accuracy
            try (Model model = MnistTraining.trainOrLoad(data, "stripes", cache)) {
                Assert.assertEquals(model.getProperty("Dataset"), "stripes");
                for (var e : model.getBlock().getParameters()) {
                    Parameter p = e.getValue();
                    Assert.assertEquals(
                            p.getArray().toFloatArray(), weights.get(e.getKey()), e.getKey());
                }
                Assert.assertEquals(MnistTraining.accuracy(model, data, 64), trained);
            }

            // and through Criteria, as a ZooModel
            Criteria<NDList, NDList> criteria =
                    Criteria.builder()
                            .setTypes(NDList.class, NDList.class)
                            .optModelPath(dir)
                            .optModelName(MnistTraining.MODEL_NAME)
                            .optBlock(MnistCnn.build())
                            .optEngine("PyTorch")
                            .build();
            try (ZooModel<NDList, NDList> zoo = criteria.loadModel()) {
                Assert.assertEquals(MnistTraining.accuracy(zoo, data, 33), trained);
            }
        } finally {
            RegistryFetcher.deleteRecursively(cache);
        }
    }

    @Test
    public void accuracyCountsCorrectPredictions() throws IOException, MalformedModelException {
        // an untrained model: accuracy equals the fraction of argmax hits computed by hand
        MnistData data = stripes(10, 30);
        try (Model model = MnistTraining.train(data, 1, 10, 5)) {
            float acc = MnistTraining.accuracy(model, data, 7);
            try (var sub = model.getNDManager().newSubManager()) {
                NDArray x = data.testImages(sub, 0, 30);
                long[] pred =
                        model.getBlock()
                                .forward(
                                        new ai.djl.training.ParameterStore(sub, false),
                                        new NDList(x),
                                        false)
                                .head()
                                .argMax(1)
                                .toLongArray();
                int hits = 0;
                for (int i = 0; i < 30; i++) {
                    if (pred[i] == data.getTestLabels()[i]) {
                        hits++;
                    }
                }
                Assert.assertEquals(acc, hits / 30f);
            }
        }
    }

    @Test
    public void rejectsUnsafeDatasetName() {
        Assert.expectThrows(
                IllegalArgumentException.class, () -> MnistTraining.modelDir(Path.of("c"), "../x"));
    }
}
