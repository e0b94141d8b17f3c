package ai.djl.jlcm.examples.llm;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.safetensors.SafetensorsCheckpoint;
import ai.djl.jlcm.safetensors.SafetensorsDtype;
import ai.djl.jlcm.safetensors.SafetensorsWriter;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.CosineTracker;
import ai.djl.training.tracker.WarmUpTracker;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Seeded training of a small {@link LlamaModel} on a token stream (next-token cross-entropy, Adam,
 * linear warm-up then cosine decay to a tenth), saved as a Hugging Face checkpoint ({@code
 * config.json} and an fp32 {@code model.safetensors}) that {@code llm generate}, {@code perplexity}
 * and {@code compress} take.
 *
 * <p>{@link #trainOrLoad} caches it in {@code <cache>/models/<name>} ({@link Recipe#cacheName()}:
 * the recipe version and every setting), written in a temporary directory and renamed into place.
 */
public final class LlmTraining {

    /** Version of the training recipe and data; part of the cache key. */
    public static final String VERSION = "v1";

    private static final Logger logger = LoggerFactory.getLogger(LlmTraining.class);

    private LlmTraining() {}

    /**
     * What to train.
     *
     * @param config the dimensions; {@code maxPositions} is the training context
     * @param steps the optimizer steps
     * @param batch the sequences per step
     * @param learningRate the peak Adam learning rate
     * @param seed the seed of the initial weights and of the sampled windows
     */
    public record Recipe(LlamaConfig config, int steps, int batch, float learningRate, long seed) {

        /** Validates the settings. */
        public Recipe {
            if (steps < 1 || batch < 1 || !(learningRate > 0)) {
                throw new IllegalArgumentException("steps, batch and learning rate must be positive");
            }
            if (config.maxPositions() < 2) {
                throw new IllegalArgumentException("the context must hold at least 2 tokens");
            }
        }

        /**
         * Returns the cache directory name: the data, the version and every setting.
         *
         * @return for example {@code llm-brown-bytes-v1-h256-l4-a4-kv4-f688-v256-c128-tied-s300-b16-lr0.002-seed1}
         */
        public String cacheName() {
            LlamaConfig c = config;
            return String.format(Locale.ROOT, "llm-brown-bytes-%s-h%d-l%d-a%d-kv%d-f%d-v%d-c%d-%s-s%d-b%d-lr%s-seed%d",
                    VERSION, c.hiddenSize(), c.layers(), c.heads(), c.kvHeads(), c.intermediateSize(), c.vocabSize(),
                    c.maxPositions(), c.tieWordEmbeddings() ? "tied" : "untied", steps, batch, learningRate, seed);
        }
    }

    /**
     * The loss curve of a run.
     *
     * @param losses the mean training loss of each step
     * @param seconds the wall time
     */
    public record Run(float[] losses, double seconds) {}

    /**
     * Returns the cached checkpoint of a recipe, training and caching it first if needed.
     *
     * @param cacheDir the cache root
     * @param recipe the recipe
     * @param data supplies the training token stream (read only when training)
     * @return the checkpoint directory
     * @throws IOException if the cache cannot be read or written, or the data cannot be read
     */
    public static Path trainOrLoad(Path cacheDir, Recipe recipe, TokenSource data) throws IOException {
        Path dir = cacheDir.resolve("models").resolve(recipe.cacheName());
        if (SafetensorsCheckpoint.isCheckpoint(dir)) {
            logger.info("Using the cached decoder in {}", dir);
            return dir;
        }
        int[] stream = data.tokens();
        Files.createDirectories(dir.getParent());
        Path tmp = Files.createTempDirectory(dir.getParent(), ".tmp-" + dir.getFileName() + "-");
        try (Model model = Model.newInstance("llama", "PyTorch")) {
            Run run = train(model, recipe, stream);
            save((LlamaModel) model.getBlock(), tmp);
            Files.writeString(tmp.resolve("training.json"), String.format(Locale.ROOT,
                    "{\"steps\":%d,\"final_loss\":%.5f,\"seconds\":%.1f,\"tokens\":%d}%n",
                    recipe.steps(), run.losses()[run.losses().length - 1], run.seconds(), stream.length));
            RegistryFetcher.moveIntoPlace(tmp, dir);
        } finally {
            RegistryFetcher.deleteRecursively(tmp);
        }
        return dir;
    }

    /** Supplies a token stream. */
    @FunctionalInterface
    public interface TokenSource {

        /**
         * Returns the tokens.
         *
         * @return the ids
         * @throws IOException if they cannot be read
         */
        int[] tokens() throws IOException;
    }

    /**
     * Trains a new {@link LlamaModel}, set as the block of an empty model: each step reads {@code
     * batch} windows of {@code maxPositions + 1} tokens at seeded random offsets of the stream and
     * predicts tokens 1.. from 0...
     *
     * @param model an empty model
     * @param recipe the recipe
     * @param stream the training tokens, all below the vocabulary size
     * @return the loss curve
     */
    public static Run train(Model model, Recipe recipe, int[] stream) {
        LlamaConfig config = recipe.config();
        int t = config.maxPositions();
        if (stream.length < t + 1) {
            throw new IllegalArgumentException("the training text holds " + stream.length + " tokens, fewer than one window of " + (t + 1));
        }
        int warmUp = Math.max(1, recipe.steps() / 20);
        Optimizer adam = Optimizer.adam()
                .optLearningRateTracker(WarmUpTracker.builder()
                        .optWarmUpSteps(warmUp)
                        .setMainTracker(CosineTracker.builder()
                                .setBaseValue(recipe.learningRate())
                                .optFinalValue(recipe.learningRate() / 10)
                                .setMaxUpdates(Math.max(1, recipe.steps() - warmUp))
                                .build())
                        .build())
                .optClipGrad(1f)
                .build();
        Engine.getInstance().setRandomSeed((int) recipe.seed());
        model.setBlock(new LlamaModel(config));
        SplittableRandom random = new SplittableRandom(recipe.seed());
        float[] losses = new float[recipe.steps()];
        long start = System.nanoTime();
        try (Trainer trainer = model.newTrainer(new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss()).optOptimizer(adam))) {
            trainer.initialize(new Shape(1, t));
            int[] window = new int[recipe.batch() * (t + 1)];
            for (int step = 0; step < recipe.steps(); step++) {
                for (int b = 0; b < recipe.batch(); b++) {
                    System.arraycopy(stream, random.nextInt(stream.length - t), window, b * (t + 1), t + 1);
                }
                try (NDManager m = model.getNDManager().newSubManager()) {
                    NDArray all = m.create(window, new Shape(recipe.batch(), t + 1));
                    NDArray input = all.get(":, :-1");
                    NDList target = new NDList(all.get(":, 1:").reshape(-1));
                    try (GradientCollector gc = trainer.newGradientCollector()) {
                        NDArray logits = trainer.forward(new NDList(input)).head();
                        NDArray loss = trainer.getLoss().evaluate(target, new NDList(logits.reshape(-1, config.vocabSize())));
                        gc.backward(loss);
                        losses[step] = loss.getFloat();
                    }
                    trainer.step();
                }
                if (step % 25 == 0 || step + 1 == recipe.steps()) {
                    logger.info(String.format(Locale.ROOT, "step %d/%d: loss %.4f, %.1f s",
                            step + 1, recipe.steps(), losses[step], (System.nanoTime() - start) / 1e9));
                }
            }
        }
        return new Run(losses, (System.nanoTime() - start) / 1e9);
    }

    /**
     * Writes a float model as a Hugging Face checkpoint: {@value LlamaConfig#FILE_NAME} and an fp32
     * {@value SafetensorsCheckpoint#SINGLE_FILE}, tensors named as {@link LlamaCheckpoint} reads them.
     *
     * @param model the (dense) model
     * @param dir an existing empty directory
     * @throws IOException if a file cannot be written
     */
    public static void save(LlamaModel model, Path dir) throws IOException {
        model.getConfig().write(dir.resolve(LlamaConfig.FILE_NAME));
        Map<String, Parameter> mapping = LlamaCheckpoint.mapping(model);
        List<SafetensorsWriter.Spec> specs = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : mapping.entrySet()) {
            specs.add(new SafetensorsWriter.Spec(e.getKey(), SafetensorsDtype.F32, e.getValue().getArray().getShape().getShape()));
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(
                dir.resolve(SafetensorsCheckpoint.SINGLE_FILE), specs, Map.of("format", "pt"))) {
            for (Parameter p : mapping.values()) {
                w.write(p.getArray().toFloatArray());
            }
        }
    }
}
