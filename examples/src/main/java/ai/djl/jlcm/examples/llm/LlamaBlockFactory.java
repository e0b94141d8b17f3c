package ai.djl.jlcm.examples.llm;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Builds the dense, uninitialized {@link LlamaModel} tree before DJL reads a model directory's
 * parameters: the architecture factory of a compressed Llama directory ({@code
 * ModelExporter.builder().optArchitectureFactory(LlamaBlockFactory.class.getName())}). The
 * dimensions come from the arguments {@code llama.hiddenSize}, {@code llama.intermediateSize},
 * {@code llama.layers}, {@code llama.heads}, {@code llama.kvHeads}, {@code llama.vocabSize}, {@code
 * llama.rmsNormEps}, {@code llama.ropeTheta}, {@code llama.maxPositions}, {@code
 * llama.tieWordEmbeddings} (all required), which {@link #properties(LlamaConfig)} writes.
 */
public class LlamaBlockFactory implements BlockFactory {

    private static final long serialVersionUID = 1L;

    /** The argument key prefix. */
    public static final String PREFIX = "llama.";

    /** {@inheritDoc} */
    @Override
    public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) {
        return new LlamaModel(config(arguments));
    }

    /**
     * Reads a configuration from arguments.
     *
     * @param arguments the arguments
     * @return the configuration
     * @throws IllegalArgumentException if a key is missing or malformed
     */
    public static LlamaConfig config(Map<String, ?> arguments) {
        return new LlamaConfig(
                Integer.parseInt(string(arguments, "hiddenSize")),
                Integer.parseInt(string(arguments, "intermediateSize")),
                Integer.parseInt(string(arguments, "layers")),
                Integer.parseInt(string(arguments, "heads")),
                Integer.parseInt(string(arguments, "kvHeads")),
                Integer.parseInt(string(arguments, "vocabSize")),
                Float.parseFloat(string(arguments, "rmsNormEps")),
                Double.parseDouble(string(arguments, "ropeTheta")),
                Integer.parseInt(string(arguments, "maxPositions")),
                Boolean.parseBoolean(string(arguments, "tieWordEmbeddings")));
    }

    /**
     * Returns the arguments that describe a configuration.
     *
     * @param config the configuration
     * @return key to value, keys prefixed {@value #PREFIX}
     */
    public static Map<String, String> properties(LlamaConfig config) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put(PREFIX + "hiddenSize", Integer.toString(config.hiddenSize()));
        p.put(PREFIX + "intermediateSize", Integer.toString(config.intermediateSize()));
        p.put(PREFIX + "layers", Integer.toString(config.layers()));
        p.put(PREFIX + "heads", Integer.toString(config.heads()));
        p.put(PREFIX + "kvHeads", Integer.toString(config.kvHeads()));
        p.put(PREFIX + "vocabSize", Integer.toString(config.vocabSize()));
        p.put(PREFIX + "rmsNormEps", Float.toString(config.rmsNormEps()));
        p.put(PREFIX + "ropeTheta", Double.toString(config.ropeTheta()));
        p.put(PREFIX + "maxPositions", Integer.toString(config.maxPositions()));
        p.put(PREFIX + "tieWordEmbeddings", Boolean.toString(config.tieWordEmbeddings()));
        return p;
    }

    private static String string(Map<String, ?> arguments, String key) {
        Object v = arguments == null ? null : arguments.get(PREFIX + key);
        if (v == null) {
            throw new IllegalArgumentException("missing model argument " + PREFIX + key);
        }
        return v.toString().strip();
    }
}
