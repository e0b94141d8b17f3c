package ai.djl.jlcm.export;

import ai.djl.Model;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CodebookLinear;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.nn.Block;

import com.google.gson.JsonObject;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Writes a model with codebook blocks as a DJL model directory that loads through {@code Criteria}
 * and DJL Serving:
 *
 * <pre>
 * model-dir/
 *   &lt;name&gt;-NNNN.params   parameters, with bit-packed indices
 *   jlcm.json              manifest: architecture, codebook layers, parameter file checksum
 *   serving.properties     engine, blockFactory=ai.djl.jlcm.export.JlcmBlockFactory, option.modelName
 * </pre>
 *
 * <p>The directory is staged next to its destination and renamed into place ({@link
 * ModelDirectory}): a failure or a {@code kill -9} at any instant leaves either the old or the new
 * model directory. Only an absent path, an empty directory or (with {@link
 * Builder#optOverwrite(boolean)}) a model directory written by djl-jlcm is ever replaced.
 */
public final class ModelExporter {

    private static final Logger logger = LoggerFactory.getLogger(ModelExporter.class);

    private final String modelName;
    private final String architectureFactory;
    private final boolean overwrite;
    private final Map<String, String> servingProperties;

    private ModelExporter(Builder builder) {
        modelName = builder.modelName;
        architectureFactory = builder.architectureFactory;
        overwrite = builder.overwrite;
        servingProperties = new LinkedHashMap<>(builder.servingProperties);
    }

    /**
     * Creates a builder.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Writes the model directory.
     *
     * @param model a model whose block holds codebook blocks (or none)
     * @param dir the directory to create
     * @return the sizes of what was written
     * @throws IOException if writing fails; {@code dir} is then unchanged
     * @throws IllegalArgumentException if the architecture cannot be described, a codebook layer
     *     holds values that would not load (a non-finite codeword, say), or {@code dir} cannot be
     *     written ({@link ModelDirectory#checkDestination(Path, boolean)}); {@code dir} is then
     *     unchanged
     */
    public ModelSize export(Model model, Path dir) throws IOException {
        Block block = model.getBlock();
        if (block == null || !block.isInitialized()) {
            throw new IllegalArgumentException("The model's block must be initialized before export");
        }
        ModelDirectory.checkDestination(dir, overwrite);
        ensureInputDescription(model);
        String name = modelName != null ? modelName : model.getName();
        JsonObject architecture = architectureFactory == null ? ArchitectureCodec.encode(block) : null;
        List<Manifest.Layer> layers = layers(block);
        ModelDirectory.write(
                dir,
                overwrite,
                tmp -> {
                    model.save(tmp, name);
                    Path params = paramsFile(tmp, name);
                    new Manifest(
                                    name,
                                    params.getFileName().toString(),
                                    Digests.sha256(params),
                                    Files.size(params),
                                    architecture,
                                    architectureFactory,
                                    layers)
                            .write(tmp.resolve(Manifest.FILE_NAME));
                    Map<String, String> serving = new LinkedHashMap<>();
                    serving.put("engine", "PyTorch");
                    serving.put("blockFactory", JlcmBlockFactory.class.getName());
                    serving.put("option.modelName", name);
                    serving.putAll(servingProperties);
                    ModelDirectory.writeServingProperties(tmp.resolve("serving.properties"), serving);
                });
        ModelSize size = ModelSize.of(block);
        logger.info(
                "Wrote {}: {} compressed layers, {} bits/weight, {} bytes of parameters",
                dir,
                size.compressedLayers(),
                String.format("%.3f", size.bitsPerWeight()),
                size.storedBytes());
        return size;
    }

    /**
     * A block loaded from a file knows its input shapes but not its input names, and DJL's {@code
     * Model.save} then fails in {@code describeInput}; initializing again with the same shapes
     * restores the names and leaves the loaded arrays untouched.
     */
    private static void ensureInputDescription(Model model) {
        Block block = model.getBlock();
        try {
            block.describeInput();
        } catch (IllegalArgumentException e) {
            block.initialize(model.getNDManager(), model.getDataType(), block.getInputShapes());
        }
    }

    private static Path paramsFile(Path dir, String name) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().matches(
                            java.util.regex.Pattern.quote(name) + "-\\d{4}\\.params"))
                    .findFirst()
                    .orElseThrow(() -> new IOException("Model.save wrote no " + name + " parameter file"));
        }
    }

    private static List<Manifest.Layer> layers(Block root) {
        List<Manifest.Layer> layers = new ArrayList<>();
        for (Map.Entry<String, Block> e : BlockTree.of(root).blocks().entrySet()) {
            if (e.getValue() instanceof CodebookBlock) {
                CodebookBlock cb = (CodebookBlock) e.getValue();
                CodebookWeight w = cb.getCodebookWeight();
                w.check(e.getKey());
                layers.add(
                        new Manifest.Layer(
                                e.getKey(),
                                cb instanceof CodebookLinear ? "linear" : "convolution",
                                w.getShape(),
                                w.getBits(),
                                w.getVectorLength(),
                                w.getGroups(),
                                w.getMode(),
                                cb.hasBias()));
            }
        }
        return layers;
    }

    /** Builds a {@link ModelExporter}. */
    public static final class Builder {

        private String modelName;
        private String architectureFactory;
        private boolean overwrite;
        private final Map<String, String> servingProperties = new LinkedHashMap<>();

        Builder() {}

        /**
         * Sets the model name used for the parameter file (default: the model's name).
         *
         * @param modelName the name
         * @return this builder
         */
        public Builder optModelName(String modelName) {
            this.modelName = modelName;
            return this;
        }

        /**
         * Names a {@code BlockFactory} class that builds the dense block tree at load time, for
         * architectures that cannot be described in the manifest (anonymous lambdas, custom blocks).
         *
         * @param className the factory's class name; it must be on the loader's class path or in a
         *     jar in the model directory
         * @return this builder
         */
        public Builder optArchitectureFactory(String className) {
            this.architectureFactory = className;
            return this;
        }

        /**
         * Replaces an existing model directory written by djl-jlcm (default false: an existing
         * non-empty directory is an error). Any other non-empty directory is never replaced.
         *
         * @param overwrite whether to replace
         * @return this builder
         */
        public Builder optOverwrite(boolean overwrite) {
            this.overwrite = overwrite;
            return this;
        }

        /**
         * Adds a key to {@code serving.properties} (a translator factory, for example).
         *
         * @param key the key
         * @param value the value
         * @return this builder
         */
        public Builder optServingProperty(String key, String value) {
            servingProperties.put(key, value);
            return this;
        }

        /**
         * Builds the exporter.
         *
         * @return the exporter
         */
        public ModelExporter build() {
            return new ModelExporter(this);
        }
    }
}
