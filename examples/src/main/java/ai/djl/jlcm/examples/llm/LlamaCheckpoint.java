package ai.djl.jlcm.examples.llm;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.jlcm.export.Digests;
import ai.djl.jlcm.pipeline.CheckpointSource;
import ai.djl.jlcm.pipeline.FloatSource;
import ai.djl.jlcm.safetensors.SafetensorsCheckpoint;
import ai.djl.jlcm.safetensors.TensorInfo;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Maps Hugging Face Llama tensor names ({@code model.embed_tokens.weight}, {@code
 * model.layers.N.self_attn.q_proj.weight}, ..., {@code model.norm.weight}, {@code lm_head.weight})
 * onto the parameters of a {@link LlamaModel} and loads them from a safetensors checkpoint, one
 * tensor at a time. Weights are {@code (out, in)} in both, so nothing is transposed. Loading is
 * strict: a missing tensor, a tensor of another shape, or a tensor the model does not use (other
 * than rotary {@code inv_freq} buffers, and {@code lm_head.weight} of a tied model) is an error
 * naming it.
 */
public final class LlamaCheckpoint {

    private static final Pattern LAYER = Pattern.compile("^layer_(\\d+)/");

    private LlamaCheckpoint() {}

    /**
     * Returns the Hugging Face name of every parameter of a dense model, in block order.
     *
     * @param model the block tree
     * @return tensor name to parameter
     */
    public static Map<String, Parameter> mapping(LlamaModel model) {
        Map<String, Parameter> m = new LinkedHashMap<>();
        targets(model).forEach((name, t) -> m.put(name, t.parameter()));
        return m;
    }

    /**
     * Returns the Hugging Face name of every parameter of a model with the parameter's block path,
     * in block order.
     *
     * @param model the block tree
     * @return tensor name to target
     */
    static Map<String, CheckpointSource.Target> targets(LlamaModel model) {
        Map<String, CheckpointSource.Target> m = new LinkedHashMap<>();
        walk(model, "", m);
        return m;
    }

    private static void walk(Block block, String path, Map<String, CheckpointSource.Target> m) {
        for (var p : block.getDirectParameters()) {
            m.put(tensorName(path, p.getKey()), new CheckpointSource.Target(path, p.getValue()));
        }
        for (var c : block.getChildren()) {
            walk(c.getValue(), path.isEmpty() ? c.getKey() : path + "/" + c.getKey(), m);
        }
    }

    /**
     * Returns the Hugging Face tensor name of a parameter.
     *
     * @param path the block path, for example {@code layer_03/self_attn/q_proj}
     * @param parameter the parameter name, for example {@code weight}
     * @return for example {@code model.layers.3.self_attn.q_proj.weight}
     */
    static String tensorName(String path, String parameter) {
        if ("lm_head".equals(path)) {
            return "lm_head." + parameter;
        }
        Matcher layer = LAYER.matcher(path);
        String p = layer.find() ? "layers." + Integer.parseInt(layer.group(1)) + "/" + path.substring(layer.end()) : path;
        return "model." + p.replace('/', '.') + "." + parameter;
    }

    /**
     * Loads every tensor of the checkpoint into the (initialized, dense) model.
     *
     * @param model the initialized block tree
     * @param checkpoint the checkpoint
     * @return the number of tensors loaded
     * @throws IOException if a file cannot be read
     * @throws MalformedModelException if a tensor is missing, has another shape, or is not used
     */
    public static int load(LlamaModel model, SafetensorsCheckpoint checkpoint) throws IOException, MalformedModelException {
        Map<String, Parameter> mapping = mapping(model);
        check(model, checkpoint, mapping);
        for (Map.Entry<String, Parameter> e : mapping.entrySet()) {
            NDArray array = e.getValue().getArray();
            array.set(FloatBuffer.wrap(checkpoint.readFloats(e.getKey(), array.getShape().getShape())));
        }
        return mapping.size();
    }

    private static void check(LlamaModel model, SafetensorsCheckpoint checkpoint, Map<String, Parameter> mapping)
            throws MalformedModelException {
        List<String> missing = new ArrayList<>();
        for (String name : mapping.keySet()) {
            if (!checkpoint.contains(name)) {
                missing.add(name);
            }
        }
        if (!missing.isEmpty()) {
            throw new MalformedModelException(
                    checkpoint.getLocation() + " lacks " + missing.size() + " tensor(s) the model needs: " + abbreviate(missing));
        }
        Set<String> unused = new TreeSet<>(checkpoint.names());
        unused.removeAll(mapping.keySet());
        unused.removeIf(n -> n.endsWith(".rotary_emb.inv_freq")
                || (model.getConfig().tieWordEmbeddings() && "lm_head.weight".equals(n)));
        if (!unused.isEmpty()) {
            throw new MalformedModelException(
                    checkpoint.getLocation() + " has " + unused.size() + " tensor(s) the model does not use: "
                            + abbreviate(new ArrayList<>(unused)));
        }
        for (Map.Entry<String, Parameter> e : mapping.entrySet()) {
            long[] want = e.getValue().getArray().getShape().getShape();
            TensorInfo info = checkpoint.info(e.getKey());
            if (!Arrays.equals(info.shape(), want)) {
                throw new MalformedModelException(
                        checkpoint.getLocation() + ": tensor '" + e.getKey() + "' has shape " + info.shapeString()
                                + ", expected " + Arrays.toString(want));
            }
        }
    }

    /**
     * A float checkpoint opened for streaming: a model whose parameters are placeholders, and the
     * source that reads a stage's tensors when the stage is loaded ({@code
     * Jlcm.Builder.optFloatSource}). Closing it closes the model and the checkpoint's files.
     *
     * @param model the model holding a {@link LlamaModel}
     * @param source the checkpoint as the model's float source
     * @param checkpoint the open checkpoint the source reads
     */
    public record Staged(Model model, FloatSource source, SafetensorsCheckpoint checkpoint) implements AutoCloseable {

        /** {@inheritDoc} */
        @Override
        public void close() throws IOException {
            try {
                model.close();
            } finally {
                checkpoint.close();
            }
        }
    }

    /**
     * Opens a float checkpoint directory for streaming: nothing is read but the headers (and the
     * whole mapping is checked against them, as {@link #load} does); a stage's tensors are read, and
     * converted to float32, when the stage is loaded, so a checkpoint larger than memory streams.
     *
     * @param dir the checkpoint directory
     * @return the model and its source; the caller closes it
     * @throws IOException if a file cannot be read or {@value LlamaConfig#FILE_NAME} is malformed
     * @throws MalformedModelException if the checkpoint does not match the configuration
     */
    public static Staged open(Path dir) throws IOException, MalformedModelException {
        LlamaConfig config = LlamaConfig.read(dir.resolve(LlamaConfig.FILE_NAME));
        SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir);
        Model model = Model.newInstance("llama", "PyTorch");
        try {
            LlamaModel block = new LlamaModel(config);
            CheckpointSource.setPlaceholders(block);
            block.initialize(model.getNDManager());
            model.setBlock(block);
            Map<String, CheckpointSource.Target> targets = targets(block);
            check(block, checkpoint, mapping(block));
            FloatSource source = new CheckpointSource(
                    block,
                    targets,
                    (name, shape) -> {
                        try {
                            return checkpoint.readFloats(name, shape.getShape());
                        } catch (MalformedModelException e) {
                            throw new IOException(e.getMessage(), e);
                        }
                    },
                    digest(checkpoint));
            return new Staged(model, source, checkpoint);
        } catch (IOException | MalformedModelException | RuntimeException e) {
            model.close();
            checkpoint.close();
            throw e;
        }
    }

    /** The SHA-256 of every tensor's header entry and every file's size: what identifies the checkpoint. */
    private static String digest(SafetensorsCheckpoint checkpoint) throws IOException, MalformedModelException {
        StringBuilder text = new StringBuilder();
        for (String name : new TreeSet<>(checkpoint.names())) {
            TensorInfo t = checkpoint.info(name);
            text.append(name).append(' ').append(t.dtype()).append(' ').append(t.shapeString())
                    .append(' ').append(t.begin()).append(' ').append(t.end()).append('\n');
        }
        for (var f : checkpoint.files()) {
            text.append(f.getFile().getFileName()).append(' ').append(Files.size(f.getFile())).append('\n');
        }
        return Digests.sha256(text.toString());
    }

    /**
     * Loads a float checkpoint directory ({@value LlamaConfig#FILE_NAME} and safetensors) as a DJL
     * model holding a {@link LlamaModel}.
     *
     * @param dir the checkpoint directory
     * @return the model; the caller closes it
     * @throws IOException if a file cannot be read or {@value LlamaConfig#FILE_NAME} is malformed
     * @throws MalformedModelException if the checkpoint does not match the configuration
     */
    public static Model loadModel(Path dir) throws IOException, MalformedModelException {
        LlamaConfig config = LlamaConfig.read(dir.resolve(LlamaConfig.FILE_NAME));
        Model model = Model.newInstance("llama", "PyTorch");
        try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir)) {
            LlamaModel block = new LlamaModel(config);
            block.initialize(model.getNDManager());
            model.setBlock(block);
            load(block, checkpoint);
            return model;
        } catch (IOException | MalformedModelException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    private static String abbreviate(List<String> names) {
        List<String> shown = names.size() > 6 ? names.subList(0, 6) : names;
        return String.join(", ", shown) + (names.size() > 6 ? ", ..." : "");
    }
}
