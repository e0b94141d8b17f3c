package ai.djl.jlcm.examples.zoo;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.jlcm.examples.data.MnistData;
import ai.djl.jlcm.examples.mnist.FloatModelDirectory;
import ai.djl.jlcm.examples.mnist.MnistTraining;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Seeded training of any {@link ZooArchitecture} with the recipe of {@link MnistTraining} (Adam,
 * cosine decay, softmax cross-entropy, batch 64), cached per (data set, model, epochs); the
 * training itself is {@link MnistTraining}'s.
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
        if (FloatModelDirectory.exists(dir, MODEL_NAME, arch.factory())) {
            logger.info("Using cached {} {} model in {}", dataset, arch.label(), dir);
            return dir;
        }
        try (Model model = train(data, arch, epochs, MnistTraining.BATCH_SIZE, MnistTraining.SEED)) {
            model.setProperty("Epoch", String.valueOf(epochs));
            FloatModelDirectory.save(model, dir, MODEL_NAME, arch.factory());
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
        return MnistTraining.train(data, MODEL_NAME, arch::build, epochs, batchSize, seed);
    }

}
