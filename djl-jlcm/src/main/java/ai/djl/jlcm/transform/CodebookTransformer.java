package ai.djl.jlcm.transform;

import ai.djl.jlcm.codebook.WeightQuantizer;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv1d;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.convolutional.Conv3d;
import ai.djl.nn.core.Linear;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * Replaces {@link Linear} and {@link Conv1d}/{@link Conv2d}/{@link Conv3d} blocks of any DJL block
 * tree by grouped-codebook blocks, data-free (RTN or k-means), as a {@link CompressionPlan} says.
 *
 * <p>All selected layers are quantized and their replacements built and checked before the tree is
 * touched: when anything fails, the tree is left unchanged. Child keys and positions are kept; a
 * block shared by several parents gets one shared replacement. A layer whose method learns from
 * calibration inputs (JLCM, GPTQ) is refused: {@code Jlcm} compresses those.
 *
 * <pre>{@code
 * TransformReport report = CodebookTransformer.builder()
 *         .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optBits(2).build()))
 *         .build()
 *         .transform(model.getBlock());
 * }</pre>
 */
public final class CodebookTransformer {

    private static final Logger logger = LoggerFactory.getLogger(CodebookTransformer.class);

    private final CompressionPlan plan;
    private final MemoryMode memoryMode;

    private CodebookTransformer(Builder builder) {
        plan = builder.plan.toBuilder().optDefaults(builder.plan.getDefaults().overriddenBy(builder.defaults.build())).build();
        memoryMode = builder.memoryMode;
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
     * Returns the plan this transformer applies.
     *
     * @return the plan
     */
    public CompressionPlan getPlan() {
        return plan;
    }

    /**
     * Compresses the selected layers of an initialized block tree in place.
     *
     * @param root the root block
     * @return what was replaced
     * @throws IllegalArgumentException if a selected layer cannot be compressed, or its method needs
     *     calibration inputs; the tree is then unchanged
     */
    public TransformReport transform(Block root) {
        return transform(root, false, path -> true, Replacements::denseWeight);
    }

    /**
     * Compresses the selected layers whose method is data-free (RTN, KMEANS) and leaves the others
     * (JLCM, GPTQ) as they are, for a calibrated pass to compress.
     *
     * @param root the root block
     * @return what was replaced
     * @throws IllegalArgumentException if a layer cannot be compressed; the tree is then unchanged
     */
    public TransformReport transformDataFree(Block root) {
        return transform(root, true, path -> true, Replacements::denseWeight);
    }

    /**
     * Compresses the selected layers whose method is data-free and whose path is accepted, for
     * example those of one stage of a model whose float parameters stream in stage by stage, with
     * the dense weight values each layer is compressed from.
     *
     * @param root the root block
     * @param within accepts the layer paths to compress
     * @param values gives a layer's dense weight values ({@link Replacements#denseWeight} reads the
     *     layer's weight array)
     * @return what was replaced
     * @throws IllegalArgumentException if a layer cannot be compressed
     */
    public TransformReport transformDataFree(Block root, Predicate<String> within, WeightValues values) {
        return transform(root, true, within, values);
    }

    /** Gives the dense weight values a layer is compressed from. */
    @FunctionalInterface
    public interface WeightValues {

        /**
         * Returns a layer's dense weight values.
         *
         * @param path the layer's path
         * @param layer the layer
         * @return its weight, row-major
         */
        float[] of(String path, Block layer);
    }

    private TransformReport transform(Block root, boolean dataFreeOnly, Predicate<String> within, WeightValues values) {
        BlockTree tree = BlockTree.of(root);
        Map<String, LayerSettings> selected = selectedLayers(root);
        selected.keySet().removeIf(within.negate());
        List<String> paths = new ArrayList<>();
        for (Map.Entry<String, LayerSettings> e : selected.entrySet()) {
            Method method = e.getValue().getMethod();
            if (!method.isCalibrated()) {
                paths.add(e.getKey());
            } else if (!dataFreeOnly) {
                throw new IllegalArgumentException(
                        "Layer '" + e.getKey() + "': method " + method.label()
                                + " learns from calibration inputs; compress it with Jlcm, or set a data-free method (rtn, kmeans)");
            }
        }
        List<Block> replacements = new ArrayList<>();
        List<ReplacedLayer> report = new ArrayList<>();
        try {
            int i = 0;
            for (String path : paths) {
                long start = System.nanoTime();
                Block layer = tree.get(path);
                Block replacement = build(path, layer, selected.get(path), values);
                replacements.add(replacement);
                tree.checkReplaceable(layer, replacement, path);
                report.add(ReplacedLayer.of(path, layer, replacement, tree.placeCount(layer)));
                logger.info(
                        "[{}/{}] {} {} -> {} ({} ms)",
                        ++i,
                        paths.size(),
                        path,
                        layer.getClass().getSimpleName(),
                        ((CodebookBlock) replacement).getCodebookWeight().describe(),
                        (System.nanoTime() - start) / 1_000_000);
            }
        } catch (RuntimeException e) {
            for (Block b : replacements) {
                ((CodebookBlock) b).getCodebookWeight().parameters().forEach(Parameter::close);
            }
            throw e;
        }
        for (int i = 0; i < paths.size(); i++) {
            tree.replace(tree.get(paths.get(i)), replacements.get(i));
        }
        return new TransformReport(report);
    }

    /**
     * Returns the layers the plan selects, in tree order, with their resolved settings, without
     * changing anything: layers of the plan's types that are not skipped and have at least their
     * minimum weight count (codebook blocks already in the tree are not selected).
     *
     * @param root the root block
     * @return the settings of each selected layer, by path
     * @throws IllegalArgumentException if a selected layer is not initialized
     */
    public Map<String, LayerSettings> selectedLayers(Block root) {
        Map<String, LayerSettings> out = new LinkedHashMap<>();
        for (Map.Entry<String, Block> e : BlockTree.of(root).blocks().entrySet()) {
            Block block = e.getValue();
            String path = e.getKey();
            if (block instanceof CodebookBlock || !plan.isCandidate(block)) {
                continue;
            }
            LayerSettings settings = plan.resolve(path, block);
            if (settings.isSkip()) {
                continue;
            }
            Parameter weight = block.getDirectParameters().get("weight");
            if (weight == null || !weight.isInitialized()) {
                throw new IllegalArgumentException(
                        "Layer '" + path + "' is not initialized: initialize the model first");
            }
            if (weight.getArray().size() >= settings.getMinWeights()) {
                out.put(path, settings);
            }
        }
        return out;
    }

    private Block build(String path, Block layer, LayerSettings settings, WeightValues values) {
        NDArray weight = layer.getDirectParameters().get("weight").getArray();
        Shape shape = weight.getShape();
        NDManager manager = weight.getManager();
        CompressedWeight compressed;
        try {
            compressed = WeightQuantizer.of(settings.getMethod()).quantize(values.of(path, layer), shape, settings);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Layer '" + path + "': " + e.getMessage(), e);
        }
        return Replacements.codebookBlock(layer, CodebookWeight.of(compressed, manager), path, memoryMode);
    }

    /** Builds a {@link CodebookTransformer}. */
    public static final class Builder {

        private CompressionPlan plan = CompressionPlan.builder().build();
        private final LayerSettings.Builder defaults = LayerSettings.builder();
        private MemoryMode memoryMode = MemoryMode.PACKED;

        Builder() {}

        /**
         * Sets the plan: method, bits, groups and mode of each layer, and which layers (default: the
         * library defaults, k-means at {@value LayerSettings#DEFAULT_BITS} bits, every Linear and
         * convolution).
         *
         * @param plan the plan
         * @return this builder
         */
        public Builder optPlan(CompressionPlan plan) {
            this.plan = Objects.requireNonNull(plan, "plan");
            return this;
        }

        /**
         * Sets the plan's default index width, a shorthand for a plan whose defaults set the bits.
         *
         * @param bits 1 to 8
         * @return this builder
         */
        public Builder optBits(int bits) {
            defaults.optBits(bits);
            return this;
        }

        /**
         * Sets what the codebook blocks keep in memory between passes (default {@link
         * MemoryMode#PACKED}: only the stored form).
         *
         * @param memoryMode the memory mode
         * @return this builder
         */
        public Builder optMemoryMode(MemoryMode memoryMode) {
            this.memoryMode = Objects.requireNonNull(memoryMode, "memoryMode");
            return this;
        }

        /**
         * Builds the transformer.
         *
         * @return the transformer
         */
        public CodebookTransformer build() {
            return new CodebookTransformer(this);
        }
    }
}
