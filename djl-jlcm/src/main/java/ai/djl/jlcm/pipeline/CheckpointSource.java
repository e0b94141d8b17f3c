package ai.djl.jlcm.pipeline;

import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.initializer.Initializer;

import java.io.IOException;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A {@link FloatSource} that reads a model's parameters by tensor name from a checkpoint, the
 * tensors of one stage at a time. The model is initialized with {@link #PLACEHOLDER}s first ({@link
 * #setPlaceholders}), so that its float parameters take no memory until their stage loads
 * them. How a name is read (a file format, a transposition) is the caller's {@link TensorReader}.
 */
public final class CheckpointSource implements FloatSource {

    /**
     * Initializes a parameter to a placeholder of its shape that takes no memory (a broadcast view
     * of one zero), for parameters a {@link CheckpointSource} reads later.
     */
    public static final Initializer PLACEHOLDER = (manager, shape, dataType) -> manager.zeros(new Shape(), dataType).broadcast(shape);

    /**
     * Where a checkpoint tensor goes.
     *
     * @param path the block path of the parameter's block
     * @param parameter the parameter
     */
    public record Target(String path, Parameter parameter) {}

    /** Reads one tensor of a checkpoint. */
    @FunctionalInterface
    public interface TensorReader {

        /**
         * Reads a tensor's values in the parameter's layout.
         *
         * @param name the tensor name
         * @param shape the parameter's shape
         * @return the values, row-major
         * @throws IOException if the checkpoint cannot be read or the tensor does not fit
         */
        float[] read(String name, Shape shape) throws IOException;
    }

    private final Block model;
    private final Map<String, Target> targets;
    private final TensorReader reader;
    private final String digest;
    private final Map<Parameter, Boolean> loaded = new IdentityHashMap<>();

    /**
     * Creates the source of a model initialized with placeholders.
     *
     * @param model the model's root block
     * @param targets tensor name to the parameter it fills
     * @param reader reads a tensor
     * @param digest the SHA-256 (lower-case hex) that identifies the checkpoint ({@link #digest()})
     */
    public CheckpointSource(Block model, Map<String, Target> targets, TensorReader reader, String digest) {
        this.model = model;
        this.targets = new LinkedHashMap<>(targets);
        this.reader = reader;
        this.digest = digest;
    }

    /**
     * Sets the initializer of every parameter of a block tree to {@link #PLACEHOLDER}: initialize
     * the tree after this.
     *
     * @param block the block tree, not initialized yet
     */
    public static void setPlaceholders(Block block) {
        block.setInitializer(PLACEHOLDER, p -> true);
    }

    /** {@inheritDoc} */
    @Override
    public void load(Stage stage) throws IOException {
        BlockTree tree = BlockTree.of(model);
        for (Map.Entry<String, Target> e : targets.entrySet()) {
            Target target = e.getValue();
            Parameter p = target.parameter();
            if (!stage.owns(target.path()) || loaded.containsKey(p) || !inTree(tree, target)) {
                continue;
            }
            float[] values = reader.read(e.getKey(), p.getArray().getShape());
            reset(p, (m, sh, dt) -> m.create(values, sh));
            loaded.put(p, Boolean.TRUE);
        }
    }

    /** {@inheritDoc} */
    @Override
    public void release(Stage stage) {
        for (Target target : targets.values()) {
            Parameter p = target.parameter();
            if (stage.owns(target.path()) && loaded.remove(p) != null) {
                reset(p, PLACEHOLDER);
            }
        }
    }

    /** {@inheritDoc} */
    @Override
    public String digest() {
        return digest;
    }

    /** Whether the parameter's block is still the one at its path (a compressed layer is not). */
    private static boolean inTree(BlockTree tree, Target target) {
        Block b = tree.get(target.path());
        return b != null && b.getDirectParameters().values().stream().anyMatch(q -> q == target.parameter());
    }

    /** Replaces a parameter's array by the one an initializer makes, in the same manager. */
    private static void reset(Parameter p, Initializer initializer) {
        NDManager manager = p.getArray().getManager();
        p.close();
        p.setInitializer(initializer);
        p.initialize(manager, DataType.FLOAT32);
        // a parameter keeps its initializer, and a loading one holds the tensor's values in Java
        p.setInitializer(PLACEHOLDER);
    }
}
