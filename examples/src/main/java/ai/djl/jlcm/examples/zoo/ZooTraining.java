package ai.djl.jlcm.examples.zoo;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.jlcm.examples.data.MnistData;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.examples.mnist.MnistTraining;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Seeded training of any {@link ZooArchitecture} with the recipe of {@link MnistTraining} (Adam,
 * cosine decay, softmax cross-entropy, batch 64), cached per (data set, model, epochs). {@link
 * MnistTraining#train} builds its own {@code MnistCnn}, so the loop is repeated here for any block.
 */
public final class ZooTraining {

    /** Version of the recipe; part of the cache key. */
    public static final String VERSION = "v1";

    /** Name of every zoo model and its parameter file prefix. */
    public static final String MODEL_NAME = "zoo-model";

    private static final Logger logger = LoggerFactory.getLogger(ZooTraining.class);

    private ZooTraining() {}

    /**
     * The cache directory of a trained model.
     *
     * @param cacheDir the cache root
     * @param dataset the data set name
     * @param arch the architecture
     * @param epochs the number of epochs
     * @return {@code <cacheDir>/models/zoo-<dataset>-<model>-e<epochs>-<VERSION>}
     */
    public static Path modelDir(Path cacheDir, String dataset, ZooArchitecture arch, int epochs) {
        return cacheDir.resolve("models")
                .resolve("zoo-" + dataset + "-" + arch.label() + "-e" + epochs + "-" + VERSION);
    }

    /**
     * Trains and caches the float model unless it is cached; returns its directory.
     *
     * @param data the data
     * @param dataset the data set name
     * @param arch the architecture
     * @param epochs the number of epochs
     * @param cacheDir the cache root
     * @return the directory of the trained model
     * @throws IOException if the cache cannot be written
     */
    public static Path trainOrCached(MnistData data, String dataset, ZooArchitecture arch, int epochs, Path cacheDir)
            throws IOException {
        Path dir = modelDir(cacheDir, dataset, arch, epochs);
        if (hasParams(dir)) {
            logger.info("Using cached {} {} model in {}", dataset, arch.label(), dir);
            return dir;
        }
        try (Model model = train(data, arch, epochs, MnistTraining.BATCH_SIZE, MnistTraining.SEED)) {
            model.setProperty("Epoch", String.valueOf(epochs));
            Files.createDirectories(dir.getParent());
            Path tmp = Files.createTempDirectory(dir.getParent(), ".tmp-" + dir.getFileName() + "-");
            try {
                model.save(tmp, MODEL_NAME);
                RegistryFetcher.moveIntoPlace(tmp, dir);
            } finally {
                RegistryFetcher.deleteRecursively(tmp);
            }
        }
        logger.info("Saved the trained {} {} model in {}", dataset, arch.label(), dir);
        return dir;
    }

    /**
     * Loads a float model saved by {@link #trainOrCached}.
     *
     * @param dir the directory
     * @param arch the architecture
     * @return the model; the caller closes it
     * @throws IOException if it cannot be read
     * @throws MalformedModelException if the parameters do not fit
     */
    public static Model load(Path dir, ZooArchitecture arch) throws IOException, MalformedModelException {
        Model model = Model.newInstance(MODEL_NAME);
        try {
            model.setBlock(arch.build());
            model.load(dir, MODEL_NAME);
            return model;
        } catch (IOException | MalformedModelException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * Trains a new model of an architecture, seeded.
     *
     * @param data the data
     * @param arch the architecture
     * @param epochs epochs, positive
     * @param batchSize batch size, positive
     * @param seed the seed
     * @return the trained model; the caller closes it
     */
    public static Model train(MnistData data, ZooArchitecture arch, int epochs, int batchSize, int seed) {
        if (epochs <= 0 || batchSize <= 0) {
            throw new IllegalArgumentException("epochs and batchSize must be positive");
        }
        int updates = epochs * ((data.trainSize() + batchSize - 1) / batchSize);
        Engine.getInstance().setRandomSeed(seed);
        Model model = Model.newInstance(MODEL_NAME);
        model.setBlock(arch.build());
        DefaultTrainingConfig config =
                new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                        .optOptimizer(
                                Optimizer.adam()
                                        .optLearningRateTracker(
                                                CosineTracker.builder()
                                                        .setBaseValue(MnistTraining.LEARNING_RATE)
                                                        .optFinalValue(MnistTraining.LEARNING_RATE / 100)
                                                        .setMaxUpdates(updates)
                                                        .build())
                                        .build());
        try (Trainer trainer = model.newTrainer(config);
                NDManager dataManager = model.getNDManager().newSubManager()) {
            trainer.initialize(new Shape(1, 1, data.getRows(), data.getCols()));
            ArrayDataset trainSet = data.trainDataset(dataManager, batchSize, seed);
            for (int epoch = 1; epoch <= epochs; epoch++) {
                long start = System.nanoTime();
                double lossSum = 0;
                long seen = 0;
                for (Batch batch : trainer.iterateDataset(trainSet)) {
                    try (batch) {
                        try (GradientCollector collector = trainer.newGradientCollector()) {
                            NDList labels = batch.getLabels();
                            NDList preds = trainer.forward(batch.getData(), labels);
                            NDArray loss = trainer.getLoss().evaluate(labels, preds);
                            collector.backward(loss);
                            long n = labels.head().size();
                            lossSum += loss.getFloat() * n;
                            seen += n;
                        }
                        trainer.step();
                    }
                }
                float acc = MnistTraining.accuracy(model.getBlock(), model.getNDManager(), data, MnistTraining.EVAL_BATCH_SIZE);
                logger.info(
                        String.format(
                                Locale.ROOT,
                                "%s epoch %d/%d: loss %.4f, test accuracy %.2f %%, %.1f s",
                                arch.label(),
                                epoch,
                                epochs,
                                lossSum / seen,
                                100.0 * acc,
                                (System.nanoTime() - start) / 1e9));
            }
        } catch (IOException | TranslateException | RuntimeException e) {
            model.close();
            throw e instanceof RuntimeException
                    ? (RuntimeException) e
                    : new IllegalStateException("Training failed: " + e.getMessage(), e);
        }
        return model;
    }

    private static boolean hasParams(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.anyMatch(
                    p -> p.getFileName().toString().startsWith(MODEL_NAME + "-")
                            && p.getFileName().toString().endsWith(".params"));
        }
    }
}
