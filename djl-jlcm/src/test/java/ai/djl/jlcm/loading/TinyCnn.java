package ai.djl.jlcm.loading;

import ai.djl.Model;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;

/** A small CNN for 1×12×12 inputs and its float model directories, for the loading tests. */
public final class TinyCnn {

    static final Shape INPUT = new Shape(1, 1, 12, 12);

    private TinyCnn() {}

    static SequentialBlock block() {
        return new SequentialBlock()
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(8).optStride(new Shape(2, 2)).build())
                .add(Activation.reluBlock())
                .add(Blocks.batchFlattenBlock())
                .add(Linear.builder().setUnits(32).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(10).build());
    }

    /**
     * Saves a randomly initialized float model as a DJL model directory.
     *
     * @param dir the directory
     * @param name the model name
     * @param serving the serving.properties keys (none: no file)
     * @throws IOException if writing fails
     */
    static void save(Path dir, String name, Map<String, String> serving) throws IOException {
        try (Model model = Model.newInstance(name, "PyTorch")) {
            model.setBlock(block());
            model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, INPUT);
            model.save(dir, name);
        }
        if (!serving.isEmpty()) {
            writeProperties(dir.resolve("serving.properties"), serving);
        }
    }

    static void writeProperties(Path file, Map<String, String> keys) throws IOException {
        Properties p = new Properties();
        keys.forEach(p::setProperty);
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            p.store(w, null);
        }
    }

    /** The float model's factory, as a float model directory names it. */
    public static final class Factory implements BlockFactory {

        private static final long serialVersionUID = 1L;

        /** {@inheritDoc} */
        @Override
        public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) {
            return block();
        }
    }
}
