package ai.djl.jlcm.examples.bert;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Builds the dense, uninitialized {@link BertMlm} tree before DJL reads a model directory's
 * parameters: the architecture factory for exporting a (compressed) BERT with {@code
 * ModelExporter.builder().optArchitectureFactory(BertBlockFactory.class.getName())}, or a {@code
 * blockFactory} for a float model directory.
 *
 * <p>The dimensions come from the arguments (for example {@code serving.properties} keys) {@code
 * bert.vocabSize}, {@code bert.hiddenSize}, {@code bert.layers}, {@code bert.heads}, {@code
 * bert.intermediateSize}, {@code bert.maxPositions}, {@code bert.typeVocabSize}, {@code
 * bert.layerNormEpsilon}, {@code bert.gelu} ({@code tanh}|{@code erf}); each missing one is
 * BERT-base's ({@link BertConfig#BASE}). {@link #properties(BertConfig)} writes them.
 */
public class BertBlockFactory implements BlockFactory {

    private static final long serialVersionUID = 1L;

    /** The argument key prefix. */
    public static final String PREFIX = "bert.";

    /** {@inheritDoc} */
    @Override
    public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) {
        return new BertMlm(config(arguments));
    }

    /**
     * Reads a configuration from arguments, BERT-base's values filling the gaps.
     *
     * @param arguments the arguments
     * @return the configuration
     */
    public static BertConfig config(Map<String, ?> arguments) {
        BertConfig b = BertConfig.BASE;
        return new BertConfig(
                integer(arguments, "vocabSize", b.vocabSize()),
                integer(arguments, "hiddenSize", b.hiddenSize()),
                integer(arguments, "layers", b.layers()),
                integer(arguments, "heads", b.heads()),
                integer(arguments, "intermediateSize", b.intermediateSize()),
                integer(arguments, "maxPositions", b.maxPositions()),
                integer(arguments, "typeVocabSize", b.typeVocabSize()),
                Float.parseFloat(string(arguments, "layerNormEpsilon", Float.toString(b.layerNormEpsilon()))),
                Gelu.Form.valueOf(string(arguments, "gelu", b.gelu().name()).toUpperCase(Locale.ROOT)));
    }

    /**
     * Returns the arguments that describe a configuration.
     *
     * @param config the configuration
     * @return key to value, keys prefixed {@value #PREFIX}
     */
    public static Map<String, String> properties(BertConfig config) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put(PREFIX + "vocabSize", Integer.toString(config.vocabSize()));
        p.put(PREFIX + "hiddenSize", Integer.toString(config.hiddenSize()));
        p.put(PREFIX + "layers", Integer.toString(config.layers()));
        p.put(PREFIX + "heads", Integer.toString(config.heads()));
        p.put(PREFIX + "intermediateSize", Integer.toString(config.intermediateSize()));
        p.put(PREFIX + "maxPositions", Integer.toString(config.maxPositions()));
        p.put(PREFIX + "typeVocabSize", Integer.toString(config.typeVocabSize()));
        p.put(PREFIX + "layerNormEpsilon", Float.toString(config.layerNormEpsilon()));
        p.put(PREFIX + "gelu", config.gelu().name().toLowerCase(Locale.ROOT));
        return p;
    }

    private static int integer(Map<String, ?> arguments, String key, int fallback) {
        return Integer.parseInt(string(arguments, key, Integer.toString(fallback)));
    }

    private static String string(Map<String, ?> arguments, String key, String fallback) {
        Object v = arguments == null ? null : arguments.get(PREFIX + key);
        return v == null ? fallback : v.toString().strip();
    }
}
