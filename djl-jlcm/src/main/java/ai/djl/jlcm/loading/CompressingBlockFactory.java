package ai.djl.jlcm.loading;

import ai.djl.Model;
import ai.djl.jlcm.export.JlcmBlockFactory;
import ai.djl.jlcm.export.Manifest;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.util.ClassLoaderUtils;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.function.Supplier;

/**
 * A {@link BlockFactory} that compresses a float model while DJL loads it: DJL's ordinary loading
 * (a model zoo, {@code optModelPath}, {@code optModelUrls}, DJL Serving) reads the float parameters,
 * and the model it returns holds grouped-codebook blocks.
 *
 * <p>In Java, pass an instance as the {@code blockFactory} argument:
 *
 * <pre>{@code
 * ZooModel<Image, Classifications> model = Criteria.builder()
 *         .setTypes(Image.class, Classifications.class)
 *         .optModelPath(floatModelDir)
 *         .optArgument("blockFactory", CompressingBlockFactory.builder().optBits(4).build())
 *         .build()
 *         .loadModel();
 * }</pre>
 *
 * <p>From a float model directory's {@code serving.properties} alone (DJL Serving): {@code
 * blockFactory=ai.djl.jlcm.loading.CompressingBlockFactory}, the float model's own factory moved to
 * {@code jlcm.blockFactory}, and {@code jlcm.*} keys for the settings.
 *
 * <p>How it works: DJL asks a {@code BlockFactory} for the block before it reads the parameters.
 * This factory builds the float block tree (from {@link Builder#optFloatBlock}, {@link
 * Builder#optFloatBlockFactory}, {@code jlcm.blockFactory}, or the directory's own {@code
 * blockFactory} in {@code serving.properties}) and hands DJL a stand-in block. When DJL reads the
 * parameter file into the stand-in, the stream is hashed while it is copied to a spool file of the
 * cache directory; on a cache hit the compressed model is read and the float weights never become
 * arrays (the spool file is deleted); on a miss (or with the cache off) they are read into the float
 * tree, which is compressed in place (k-means, RTN, or calibrated JLCM); the compressed tree becomes
 * the model's block. The loaded model is indistinguishable from one loaded from a compressed model
 * directory.
 *
 * <p>Cache: the first load writes the compressed model directory (the format of {@link
 * ai.djl.jlcm.export.ModelExporter}) into a cache keyed by the float parameters' SHA-256, the
 * architecture and the settings; later loads read it instead of compressing. An entry that fails its
 * checksums or whose recorded key differs is rebuilt, never used.
 *
 * <p>Errors: an unknown or malformed {@code jlcm.*} key, a configuration that selects no layer, a
 * missing float architecture or an unwritable cache directory fail the load with a message naming
 * the key or path. The load never falls back to the float model.
 */
public class CompressingBlockFactory implements BlockFactory {

    private static final long serialVersionUID = 1L;

    private final Map<String, String> settings;
    private final CompressionPlan plan;
    private final transient Iterable<NDList> calibration;
    private final transient Supplier<Block> floatBlock;
    private final BlockFactory floatFactory;

    /**
     * Creates a factory configured only by {@code jlcm.*} arguments, as DJL does when {@code
     * serving.properties} names this class.
     */
    public CompressingBlockFactory() {
        this(new Builder());
    }

    CompressingBlockFactory(Builder builder) {
        settings = Collections.unmodifiableMap(new LinkedHashMap<>(builder.settings));
        plan = builder.plan;
        calibration = builder.calibration;
        floatBlock = builder.floatBlock;
        floatFactory = builder.floatFactory;
    }

    /**
     * Creates a builder.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** {@inheritDoc} */
    @Override
    public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) throws IOException {
        try {
            return newStandIn(model, modelPath, arguments);
        } catch (IOException | RuntimeException e) {
            // DJL drops a model whose block cannot be built without closing it
            model.close();
            throw e;
        }
    }

    private Block newStandIn(Model model, Path modelPath, Map<String, ?> arguments) throws IOException {
        Path dir = Files.isRegularFile(modelPath) ? modelPath.getParent() : modelPath;
        Properties serving = servingProperties(dir);
        Map<String, String> values = new HashMap<>();
        for (Map.Entry<String, ?> e : arguments.entrySet()) {
            if (e.getKey().startsWith(LoadConfig.PREFIX) && e.getValue() != null) {
                values.put(e.getKey(), String.valueOf(e.getValue()));
            }
        }
        values.putAll(settings);
        LoadConfig config =
                LoadConfig.parse(values, plan, calibration != null, key -> sourceOf(key, values, serving, dir), dir);
        if (Files.isRegularFile(dir.resolve(Manifest.FILE_NAME))) {
            throw new IllegalArgumentException(
                    dir
                            + " holds an already compressed model ("
                            + Manifest.FILE_NAME
                            + "): load it with blockFactory="
                            + JlcmBlockFactory.class.getName()
                            + " instead of "
                            + getClass().getName());
        }
        FloatSource source = floatSource(config, model, dir, arguments, serving);
        Path calibrationFile = null;
        if (config.calibrationFile != null) {
            calibrationFile = dir.resolve(config.calibrationFile);
            if (!Files.isRegularFile(calibrationFile)) {
                throw new IllegalArgumentException(
                        "Invalid "
                                + LoadConfig.CALIBRATION
                                + "="
                                + config.calibrationFile
                                + " ("
                                + config.sourceOf(LoadConfig.CALIBRATION)
                                + "): no such file "
                                + calibrationFile);
            }
        }
        if (config.cacheEnabled) {
            CompressedModelCache.checkWritable(config.cacheDir, config.cacheDirSource);
        }
        Block dense = source.newBlock();
        return new CompressOnLoadBlock(model, dense, source, config, calibration, calibrationFile);
    }

    /** Describes the settings; DJL stores this as the model's {@code blockFactory} property. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(getClass().getSimpleName()).append(settings);
        if (plan != null) {
            sb.append(" with plan ").append(plan);
        }
        if (calibration != null) {
            sb.append(" with calibration inputs");
        }
        return sb.toString();
    }

    private static Properties servingProperties(Path dir) throws IOException {
        Properties p = new Properties();
        Path file = dir.resolve("serving.properties");
        if (Files.isRegularFile(file)) {
            try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                p.load(r);
            }
        }
        return p;
    }

    private String sourceOf(String key, Map<String, String> values, Properties serving, Path dir) {
        if (settings.containsKey(key)) {
            return "set on " + getClass().getSimpleName() + ".Builder";
        }
        String fromFile = serving.getProperty(key);
        if (fromFile != null && fromFile.equals(values.get(key))) {
            return "in " + dir.resolve("serving.properties");
        }
        return "a Criteria argument";
    }

    private FloatSource floatSource(
            LoadConfig config, Model model, Path dir, Map<String, ?> arguments, Properties serving) {
        if (floatBlock != null) {
            return new FloatSource(
                    "the block of " + getClass().getSimpleName() + ".Builder.optFloatBlock",
                    null,
                    floatBlock::get);
        }
        if (floatFactory != null) {
            return fromFactory(floatFactory, "the factory given to optFloatBlockFactory", model, dir, arguments);
        }
        if (config.floatFactory != null) {
            String name = config.floatFactory;
            return fromFactory(
                    find(dir, name, "Invalid " + LoadConfig.BLOCK_FACTORY + "=" + name + " (" + config.sourceOf(LoadConfig.BLOCK_FACTORY) + ")"),
                    LoadConfig.BLOCK_FACTORY + "=" + name,
                    model,
                    dir,
                    arguments);
        }
        String own = serving.getProperty("blockFactory");
        if (own != null && !own.isBlank() && !own.trim().equals(getClass().getName())) {
            String name = own.trim();
            return fromFactory(
                    find(dir, name, "blockFactory=" + name + " in " + dir.resolve("serving.properties")),
                    "blockFactory=" + name + " of " + dir.resolve("serving.properties"),
                    model,
                    dir,
                    arguments);
        }
        throw new IllegalArgumentException(
                "JLCM compression of "
                        + dir
                        + " needs the float model's block tree: set "
                        + LoadConfig.BLOCK_FACTORY
                        + " to the float model's BlockFactory class (in serving.properties or as a Criteria"
                        + " argument; a model zoo's own blockFactory argument is replaced by this factory), or"
                        + " use CompressingBlockFactory.Builder.optFloatBlockFactory / optFloatBlock");
    }

    private BlockFactory find(Path dir, String name, String where) {
        BlockFactory found = ClassLoaderUtils.findImplementation(dir, BlockFactory.class, name);
        if (found == null) {
            throw new IllegalArgumentException(
                    where
                            + ": no BlockFactory class "
                            + name
                            + " with a public no-argument constructor on the class path or in a jar in "
                            + dir);
        }
        return found;
    }

    private FloatSource fromFactory(
            BlockFactory factory, String description, Model model, Path dir, Map<String, ?> arguments) {
        if (factory instanceof CompressingBlockFactory) {
            throw new IllegalArgumentException(
                    description + " names " + factory.getClass().getName() + " itself; name the float model's BlockFactory");
        }
        return new FloatSource(
                description,
                factory.getClass().getName(),
                () -> {
                    try {
                        return Objects.requireNonNull(
                                factory.newBlock(model, dir, arguments), description + " returned no block");
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
    }

    /** Builds the float block tree, once per load and once more to read a cached entry. */
    static final class FloatSource {
        final String description;
        /** The float factory's class name, or {@code null} when the block comes from a supplier. */
        final String factoryClass;
        private final Supplier<Block> supplier;

        FloatSource(String description, String factoryClass, Supplier<Block> supplier) {
            this.description = description;
            this.factoryClass = factoryClass;
            this.supplier = supplier;
        }

        Block newBlock() throws IOException {
            Block b;
            try {
                b = supplier.get();
            } catch (java.io.UncheckedIOException e) {
                throw e.getCause();
            }
            if (b == null) {
                throw new IllegalArgumentException(description + " returned no block");
            }
            return b;
        }
    }

    /** Builds a {@link CompressingBlockFactory}; every setting is one of the {@code jlcm.*} keys. */
    public static final class Builder {

        private final Map<String, String> settings = new LinkedHashMap<>();
        private CompressionPlan plan;
        private Iterable<NDList> calibration;
        private Supplier<Block> floatBlock;
        private BlockFactory floatFactory;

        Builder() {}

        /**
         * Sets a plan, applied over the {@code jlcm.*} keys (from {@code serving.properties}, Criteria
         * arguments and this builder's other settings): its defaults override theirs and its rules
         * come after theirs, so they win. Per-type and per-path settings, and every learning setting,
         * come this way.
         *
         * @param plan the plan
         * @return this builder
         */
        public Builder optPlan(CompressionPlan plan) {
            this.plan = Objects.requireNonNull(plan, "plan");
            return this;
        }

        /**
         * Sets the method ({@code jlcm.method}: KMEANS, RTN or JLCM; default KMEANS, or JLCM with
         * calibration inputs).
         *
         * @param method the method
         * @return this builder
         */
        public Builder optMethod(Method method) {
            return set(LoadConfig.METHOD, method.label());
        }

        /**
         * Sets the index width ({@code jlcm.bits}; default {@value LayerSettings#DEFAULT_BITS}).
         *
         * @param bits 1 to 8
         * @return this builder
         */
        public Builder optBits(int bits) {
            return set(LoadConfig.BITS, String.valueOf(bits));
        }

        /**
         * Sets the vector length ({@code jlcm.vectorLength}; default 1, scalar codebooks; kmeans and
         * jlcm): that many consecutive weights of a row share one codeword.
         *
         * @param vectorLength 1 to 8, with bits times it at most 8
         * @return this builder
         */
        public Builder optVectorLength(int vectorLength) {
            return set(LoadConfig.VECTOR_LENGTH, String.valueOf(vectorLength));
        }

        /**
         * Sets the neuron groups per layer ({@code jlcm.groups}; default 4; kmeans and jlcm).
         *
         * @param groups the groups
         * @return this builder
         */
        public Builder optGroups(int groups) {
            return set(LoadConfig.GROUPS, String.valueOf(groups));
        }

        /**
         * Sets the codebook mode ({@code jlcm.mode}; default MULTI, and SCALED for jlcm at 1 bit; kmeans and jlcm).
         *
         * @param mode the mode
         * @return this builder
         */
        public Builder optMode(CodebookMode mode) {
            return set(LoadConfig.MODE, mode.name().toLowerCase(Locale.ROOT));
        }

        /**
         * Sets the layer types to compress ({@code jlcm.layers}: a comma-separated list of {@code
         * linear}, {@code conv}, {@code conv1d}, {@code conv2d}, {@code conv3d}; default all).
         *
         * @param layers the list
         * @return this builder
         */
        public Builder optLayers(String layers) {
            return set(LoadConfig.LAYERS, layers);
        }

        /**
         * Compresses only layers whose path matches ({@code jlcm.include}, a regular expression
         * searched in paths such as {@code 05Linear}).
         *
         * @param regex the expression
         * @return this builder
         */
        public Builder optInclude(String regex) {
            return set(LoadConfig.INCLUDE, regex);
        }

        /**
         * Leaves layers whose path matches uncompressed ({@code jlcm.exclude}).
         *
         * @param regex the expression
         * @return this builder
         */
        public Builder optExclude(String regex) {
            return set(LoadConfig.EXCLUDE, regex);
        }

        /**
         * Skips layers with fewer weights ({@code jlcm.minWeights}; default 0).
         *
         * @param minWeights the minimum
         * @return this builder
         */
        public Builder optMinWeights(long minWeights) {
            return set(LoadConfig.MIN_WEIGHTS, String.valueOf(minWeights));
        }

        /**
         * Sets JLCM's learning steps per layer ({@code jlcm.steps}; default 200).
         *
         * @param steps the steps
         * @return this builder
         */
        public Builder optSteps(int steps) {
            return set(LoadConfig.STEPS, String.valueOf(steps));
        }

        /**
         * Sets the seed of JLCM's neuron grouping ({@code jlcm.seed}; default 0).
         *
         * @param seed the seed
         * @return this builder
         */
        public Builder optSeed(long seed) {
            return set(LoadConfig.SEED, String.valueOf(seed));
        }

        /**
         * Gives calibration inputs, which selects calibrated JLCM. The batches are iterated several
         * times and must stay open until the load ends; their content is part of the cache key.
         *
         * @param batches the model's input batches
         * @return this builder
         */
        public Builder optCalibration(Iterable<NDList> batches) {
            this.calibration = Objects.requireNonNull(batches, "batches");
            return this;
        }

        /**
         * Builds the float block tree with this supplier (for models loaded with {@code
         * Criteria.optBlock} today: move the block here).
         *
         * @param floatBlock a supplier of new, uninitialized float block trees
         * @return this builder
         */
        public Builder optFloatBlock(Supplier<Block> floatBlock) {
            this.floatBlock = Objects.requireNonNull(floatBlock, "floatBlock");
            return this;
        }

        /**
         * Builds the float block tree with this factory (a model zoo's factory, for example).
         *
         * @param factory the float model's factory
         * @return this builder
         */
        public Builder optFloatBlockFactory(BlockFactory factory) {
            this.floatFactory = Objects.requireNonNull(factory, "factory");
            return this;
        }

        /**
         * Sets the cache directory ({@code jlcm.cacheDir}; default: the system property {@code
         * jlcm.cacheDir}, else {@code compressed} under {@code ~/.cache/jlcm}, {@code $JLCM_CACHE} or
         * {@code -Djlcm.cache}).
         *
         * @param dir the directory
         * @return this builder
         */
        public Builder optCacheDir(Path dir) {
            return set(LoadConfig.CACHE_DIR, dir.toString());
        }

        /**
         * Turns the cache on or off ({@code jlcm.cacheEnabled}; default on).
         *
         * @param enabled whether to read and write the cache
         * @return this builder
         */
        public Builder optCacheEnabled(boolean enabled) {
            return set(LoadConfig.CACHE_ENABLED, String.valueOf(enabled));
        }

        /**
         * Sets what codebook blocks keep in memory between passes ({@code jlcm.memoryMode}; default
         * {@link MemoryMode#PACKED}).
         *
         * @param memoryMode the memory mode
         * @return this builder
         */
        public Builder optMemoryMode(MemoryMode memoryMode) {
            return set(LoadConfig.MEMORY_MODE, memoryMode.key());
        }

        private Builder set(String key, String value) {
            settings.put(key, Objects.requireNonNull(value, key));
            return this;
        }

        /**
         * Builds the factory.
         *
         * @return the factory
         * @throws IllegalArgumentException naming the first invalid setting
         */
        public CompressingBlockFactory build() {
            LoadConfig.checkValues(settings, calibration != null, key -> "set on CompressingBlockFactory.Builder");
            return new CompressingBlockFactory(this);
        }
    }
}
