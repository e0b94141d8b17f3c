package ai.djl.jlcm.it;

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

/**
 * The MNIST CNN's shape (as examples' {@code MnistCnn}: Conv2d 16×5×5/2 → ReLU → Conv2d 32×3×3/2 →
 * ReLU → flatten → Linear 128 → ReLU → Linear 10) with random weights, and its float model
 * directories.
 */
public final class ServingCnn {

    /** The model name. */
    public static final String NAME = "mnist-cnn";

    /** One input batch's shape. */
    public static final Shape INPUT = new Shape(1, 1, 28, 28);

    private ServingCnn() {}

    static SequentialBlock block() {
        return new SequentialBlock()
                .add(Conv2d.builder().setFilters(16).setKernelShape(new Shape(5, 5)).optStride(new Shape(2, 2)).optPadding(new Shape(2, 2)).build())
                .add(Activation.reluBlock())
                .add(Conv2d.builder().setFilters(32).setKernelShape(new Shape(3, 3)).optStride(new Shape(2, 2)).optPadding(new Shape(1, 1)).build())
                .add(Activation.reluBlock())
                .add(Blocks.batchFlattenBlock())
                .add(Linear.builder().setUnits(128).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(10).build());
    }

    /** Writes {@code mnist-cnn-0000.params} with random weights into a directory. */
    static void saveParameters(Path dir) throws IOException {
        try (Model model = Model.newInstance(NAME, "PyTorch")) {
            model.setBlock(block());
            model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, INPUT);
            model.save(dir, NAME);
        }
    }

    static void writeServingProperties(Path dir, Map<String, String> keys) throws IOException {
        Properties p = new Properties();
        keys.forEach(p::setProperty);
        try (Writer w = Files.newBufferedWriter(dir.resolve("serving.properties"), StandardCharsets.UTF_8)) {
            p.store(w, null);
        }
    }

    /** The float model's {@code BlockFactory}, as its {@code serving.properties} names it. */
    public static final class Factory implements BlockFactory {

        private static final long serialVersionUID = 1L;

        /** {@inheritDoc} */
        @Override
        public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) {
            return block();
        }
    }
}
