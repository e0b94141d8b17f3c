package ai.djl.jlcm.examples.mnist;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.jlcm.examples.data.MnistData;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.CosineTracker;
import ai.djl.translate.TranslateException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Seeded training of {@link MnistCnn}, a cache of the trained float model, and test-set accuracy.
 *
 * <p>The trained model is cached in {@code <cacheDir>/models/<dataset>-cnn-<VERSION>/}, a DJL model
 * directory ({@value #MODEL_NAME}{@code -NNNN.params} and a {@code serving.properties} naming {@link
 * MnistCnnFactory}, see {@link FloatModelDirectory}); {@link #trainOrLoad} loads it from there on later
 * calls.
 */
public final class MnistTraining {

    /** Version of the architecture and training recipe; part of the cache key. */
    public static final String VERSION = "v1";

    /** Name of the model and its parameter file prefix. */
    public static final String MODEL_NAME = "mnist-cnn";

    /** Default random seed (weights initialization and shuffling). */
    public static final int SEED = 20240601;

    /** Default number of epochs. */
    public static final int EPOCHS = 6;

    /** Default training batch size. */
    public static final int BATCH_SIZE = 64;

    /** Default evaluation batch size. */
    public static final int EVAL_BATCH_SIZE = 500;

    /** Initial Adam learning rate; it decays along a cosine to 1/100 of this by the last step. */
    public static final float LEARNING_RATE = 1e-3f;

    private static final Logger logger = LoggerFactory.getLogger(MnistTraining.class);
    private static final Pattern DATASET_NAME = Pattern.compile("[a-z0-9][a-z0-9_.-]*");

    private MnistTraining() {}

    /**
     * Returns the cached trained model for a data set, training and caching it first if needed. The
     * caller closes the returned model.
     *
     * @param data the data set
     * @param datasetName the data set's name in the cache key, for example {@code mnist}
     * @param cacheDir the cache root (see {@link RegistryFetcher#defaultCacheDir()})
     * @return the trained model, its block a {@link MnistCnn}
     * @throws IOException if the cache cannot be read or written
     * @throws MalformedModelException if a cached model is corrupt
     */
    public static Model trainOrLoad(MnistData data, String datasetName, Path cacheDir)
            throws IOException, MalformedModelException {
        Path dir = modelDir(cacheDir, datasetName);
        if (FloatModelDirectory.exists(dir, MODEL_NAME, MnistCnnFactory.class.getName())) {
            logger.info("Loading cached {} model from {}", datasetName, dir);
            return loadModel(dir);
        }
        Model model = train(data, EPOCHS, BATCH_SIZE, SEED);
        try {
            model.setProperty("Dataset", datasetName);
            model.setProperty("Version", VERSION);
            model.setProperty("Epoch", String.valueOf(EPOCHS));
            FloatModelDirectory.save(model, dir, MODEL_NAME, MnistCnnFactory.class.getName());
            logger.info("Saved the trained {} model in {}", datasetName, dir);
            return model;
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * Returns the cache directory of a data set's trained model.
     *
     * @param cacheDir the cache root
     * @param datasetName the data set's name, lower case letters, digits, {@code . _ -}
     * @return {@code <cacheDir>/models/<datasetName>-cnn-<VERSION>}
     */
    public static Path modelDir(Path cacheDir, String datasetName) {
        if (!DATASET_NAME.matcher(datasetName).matches()) {
            throw new IllegalArgumentException("Invalid data set name: " + datasetName);
        }
        return cacheDir.resolve("models").resolve(datasetName + "-cnn-" + VERSION);
    }

    /**
     * Loads a model saved by {@link #trainOrLoad} from a directory.
     *
     * @param dir the directory holding {@value #MODEL_NAME}{@code -NNNN.params}
     * @return the model; the caller closes it
     * @throws IOException if the directory cannot be read
     * @throws MalformedModelException if the parameters do not fit {@link MnistCnn}
     */
    public static Model loadModel(Path dir) throws IOException, MalformedModelException {
        Model model = Model.newInstance(MODEL_NAME);
        try {
            model.setBlock(MnistCnn.build());
            model.load(dir, MODEL_NAME);
            return model;
        } catch (IOException | MalformedModelException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * Trains a new {@link MnistCnn} with softmax cross-entropy and Adam (cosine learning rate
     * decay), seeded, logging one line per epoch. The caller closes the returned model.
     *
     * @param data the data set
     * @param epochs the number of epochs
     * @param batchSize the batch size
     * @param seed the seed for weight initialization and shuffling
     * @return the trained model
     */
    public static Model train(MnistData data, int epochs, int batchSize, int seed) {
        return train(data, MODEL_NAME, MnistCnn::build, epochs, batchSize, seed);
    }

    /**
     * Trains a new model of any architecture mapping N×1×28×28 images to class logits with the
     * same recipe as {@link #train(MnistData, int, int, int)}. The caller closes the returned model.
     *
     * @param data the data set
     * @param modelName the model's name
     * @param architecture builds the uninitialized block
     * @param epochs the number of epochs
     * @param batchSize the batch size
     * @param seed the seed for weight initialization and shuffling
     * @return the trained model
     */
    public static Model train(
            MnistData data,
            String modelName,
            Supplier<Block> architecture,
            int epochs,
            int batchSize,
            int seed) {
        if (epochs <= 0 || batchSize <= 0) {
            throw new IllegalArgumentException("epochs and batchSize must be positive");
        }
        int updates = epochs * ((data.trainSize() + batchSize - 1) / batchSize);
        Engine.getInstance().setRandomSeed(seed);
        Model model = Model.newInstance(modelName);
        model.setBlock(architecture.get());
        DefaultTrainingConfig config =
                new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                        .optOptimizer(
                                Optimizer.adam()
                                        .optLearningRateTracker(
                                                CosineTracker.builder()
                                                        .setBaseValue(LEARNING_RATE)
                                                        .optFinalValue(LEARNING_RATE / 100)
                                                        .setMaxUpdates(updates)
                                                        .build())
                                        .build());
        long trainStart = System.nanoTime();
        try (Trainer trainer = model.newTrainer(config);
                NDManager dataManager = model.getNDManager().newSubManager()) {
            trainer.initialize(new Shape(1, 1, data.getRows(), data.getCols()));
            ArrayDataset trainSet = data.trainDataset(dataManager, batchSize, seed);
            logger.info(
                    "Training {} on {} for {} epochs, batch {}, seed {}",
                    modelName,
                    data,
                    epochs,
                    batchSize,
                    seed);
            for (int epoch = 1; epoch <= epochs; epoch++) {
                long start = System.nanoTime();
                double lossSum = 0;
                long correct = 0;
                long seen = 0;
                for (Batch batch : trainer.iterateDataset(trainSet)) {
                    try (batch) {
                        try (GradientCollector collector = trainer.newGradientCollector()) {
                            for (Batch split : batch.split(trainer.getDevices(), false)) {
                                NDList labels = split.getLabels();
                                NDList preds = trainer.forward(split.getData(), labels);
                                NDArray loss = trainer.getLoss().evaluate(labels, preds);
                                collector.backward(loss);
                                long n = labels.head().size();
                                lossSum += loss.getFloat() * n;
                                correct += countCorrect(preds.head(), labels.head());
                                seen += n;
                            }
                        }
                        trainer.step();
                    }
                }
                float testAccuracy =
                        accuracy(model.getBlock(), model.getNDManager(), data, EVAL_BATCH_SIZE);
                logger.info(
                        String.format(
                                Locale.ROOT,
                                "epoch %d/%d: loss %.4f, train accuracy %.2f %%, test accuracy"
                                        + " %.2f %%, %.1f s",
                                epoch,
                                epochs,
                                lossSum / seen,
                                100.0 * correct / seen,
                                100.0 * testAccuracy,
                                (System.nanoTime() - start) / 1e9));
            }
        } catch (IOException | TranslateException | RuntimeException e) {
            model.close();
            throw e instanceof RuntimeException
                    ? (RuntimeException) e
                    : new IllegalStateException("Training failed: " + e.getMessage(), e);
        }
        logger.info(
                String.format(
                        Locale.ROOT,
                        "Trained %s in %.1f s",
                        modelName,
                        (System.nanoTime() - trainStart) / 1e9));
        return model;
    }

    /**
     * Returns a model's top-1 accuracy on the test images, in batches of {@value #EVAL_BATCH_SIZE}.
     * Works on any model whose block maps N×1×28×28 to N×classes logits, including one loaded
     * through {@code Criteria}.
     *
     * @param model the model
     * @param data the data set
     * @return the fraction of test images classified correctly
     */
    public static float accuracy(Model model, MnistData data) {
        return accuracy(model, data, EVAL_BATCH_SIZE);
    }

    /**
     * Returns a model's top-1 accuracy on the test images.
     *
     * @param model the model
     * @param data the data set
     * @param batchSize the evaluation batch size
     * @return the fraction of test images classified correctly
     */
    public static float accuracy(Model model, MnistData data, int batchSize) {
        return accuracy(model.getBlock(), model.getNDManager(), data, batchSize);
    }

    /**
     * Returns a block's top-1 accuracy on the test images, running it in inference mode. Every
     * per-batch array lives in a sub-manager of {@code manager} that is closed after the batch.
     *
     * @param block an initialized block mapping N×1×rows×cols to N×classes logits
     * @param manager the manager whose device the inputs go to, usually the model's
     * @param data the data set
     * @param batchSize the evaluation batch size
     * @return the fraction of test images classified correctly
     */
    public static float accuracy(Block block, NDManager manager, MnistData data, int batchSize) {
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batchSize must be positive: " + batchSize);
        }
        int[] labels = data.getTestLabels();
        int total = data.testSize();
        long correct = 0;
        for (int from = 0; from < total; from += batchSize) {
            int count = Math.min(batchSize, total - from);
            try (NDManager sub = manager.newSubManager()) {
                NDArray x = data.testImages(sub, from, count);
                NDArray logits =
                        block.forward(new ParameterStore(sub, false), new NDList(x), false).head();
                long[] predicted = logits.argMax(1).toType(DataType.INT64, false).toLongArray();
                for (int i = 0; i < count; i++) {
                    if (predicted[i] == labels[from + i]) {
                        correct++;
                    }
                }
            }
        }
        return (float) correct / total;
    }

    private static long countCorrect(NDArray logits, NDArray labels) {
        return logits.argMax(1)
                .toType(DataType.INT64, false)
                .eq(labels.toType(DataType.INT64, false))
                .toType(DataType.INT64, false)
                .sum()
                .getLong();
    }

}
