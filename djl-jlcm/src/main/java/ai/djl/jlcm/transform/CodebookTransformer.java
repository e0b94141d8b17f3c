package ai.djl.jlcm.transform;

import ai.djl.jlcm.codebook.WeightQuantizer;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CodebookConvolution;
import ai.djl.jlcm.nn.CodebookLinear;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv1d;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.convolutional.Conv3d;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Replaces {@link Linear} and {@link Conv1d}/{@link Conv2d}/{@link Conv3d} blocks of any DJL block
 * tree by grouped-codebook blocks.
 *
 * <p>All selected layers are quantized and their replacements built and checked before the tree is
 * touched: when anything fails, the tree is left unchanged. Child keys and positions are kept; a
 * block shared by several parents gets one shared replacement.
 *
 * <pre>{@code
 * TransformReport report = CodebookTransformer.builder()
 *         .setQuantizer(KMeansQuantizer.builder().optGroups(4).build())
 *         .optBits(2)
 *         .build()
 *         .transform(model.getBlock());
 * }</pre>
 */
public final class CodebookTransformer {

    private static final Logger logger = LoggerFactory.getLogger(CodebookTransformer.class);

    /** The block types that can be replaced. */
    public static final Set<Class<? extends Block>> SUPPORTED_TYPES =
            Set.of(Linear.class, Conv1d.class, Conv2d.class, Conv3d.class);

    private final WeightQuantizer quantizer;
    private final int bits;
    private final Set<Class<? extends Block>> layerTypes;
    private final Predicate<String> pathFilter;
    private final long minWeights;
    private final Map<String, Integer> layerBits;
    private final MemoryMode memoryMode;

    private CodebookTransformer(Builder builder) {
        quantizer = builder.quantizer;
        bits = builder.bits;
        layerTypes = builder.layerTypes;
        pathFilter = builder.pathFilter;
        minWeights = builder.minWeights;
        layerBits = Map.copyOf(builder.layerBits);
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
     * Compresses the selected layers of an initialized block tree in place.
     *
     * @param root the root block
     * @return what was replaced
     * @throws IllegalArgumentException if a selected layer cannot be compressed; the tree is then
     *     unchanged
     */
    public TransformReport transform(Block root) {
        BlockTree tree = BlockTree.of(root);
        List<Candidate> selected = select(tree);
        Set<String> unknown = new LinkedHashSet<>(layerBits.keySet());
        selected.forEach(c -> unknown.remove(c.path));
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(
                    "Per-layer bits name layers that are not selected: " + unknown);
        }
        List<Block> replacements = new ArrayList<>();
        List<ReplacedLayer> report = new ArrayList<>();
        try {
            int i = 0;
            for (Candidate c : selected) {
                long start = System.nanoTime();
                Block replacement = build(c);
                replacements.add(replacement);
                tree.checkReplaceable(c.block, replacement, c.path);
                CodebookWeight cw = ((CodebookBlock) replacement).getCodebookWeight();
                report.add(
                        new ReplacedLayer(
                                c.path,
                                c.block.getClass().getSimpleName(),
                                cw.getShape(),
                                cw.getBits(),
                                cw.getGroups(),
                                cw.getMode(),
                                cw.storedBits(),
                                tree.placeCount(c.block)));
                logger.info(
                        "[{}/{}] {} {} -> {} ({} ms)",
                        ++i,
                        selected.size(),
                        c.path,
                        c.block.getClass().getSimpleName(),
                        cw.describe(),
                        (System.nanoTime() - start) / 1_000_000);
            }
        } catch (RuntimeException e) {
            for (Block b : replacements) {
                ((CodebookBlock) b).getCodebookWeight().parameters().forEach(Parameter::close);
            }
            throw e;
        }
        for (int i = 0; i < selected.size(); i++) {
            tree.replace(selected.get(i).block, replacements.get(i));
        }
        return new TransformReport(report);
    }

    /**
     * Returns the paths of the layers this transformer would replace, in tree order, without
     * changing anything.
     *
     * @param root the root block
     * @return the selected paths
     */
    public List<String> selectedPaths(Block root) {
        List<String> paths = new ArrayList<>();
        for (Candidate c : select(BlockTree.of(root))) {
            paths.add(c.path);
        }
        return paths;
    }

    private List<Candidate> select(BlockTree tree) {
        List<Candidate> out = new ArrayList<>();
        for (Map.Entry<String, Block> e : tree.blocks().entrySet()) {
            Block block = e.getValue();
            String path = e.getKey();
            if (block instanceof CodebookBlock || !isSelectedType(block)) {
                continue;
            }
            if (!pathFilter.test(path)) {
                continue;
            }
            Parameter weight = block.getDirectParameters().get("weight");
            if (weight == null || !weight.isInitialized()) {
                throw new IllegalArgumentException(
                        "Layer '" + path + "' is not initialized: initialize the model first");
            }
            if (weight.getArray().size() < minWeights) {
                continue;
            }
            out.add(new Candidate(path, block));
        }
        return out;
    }

    private boolean isSelectedType(Block block) {
        for (Class<? extends Block> type : layerTypes) {
            if (type.isInstance(block)) {
                return true;
            }
        }
        return false;
    }

    private Block build(Candidate c) {
        int layerBitsValue = layerBits.getOrDefault(c.path, bits);
        NDArray weight = c.block.getDirectParameters().get("weight").getArray();
        if (weight.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException(
                    "Layer '" + c.path + "': weight is " + weight.getDataType() + ", expected FLOAT32");
        }
        float[] values = weight.toFloatArray();
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new IllegalArgumentException(
                        "Layer '" + c.path + "': weight holds " + values[i] + " at flat index " + i);
            }
        }
        Shape shape = weight.getShape();
        CompressedWeight compressed;
        try {
            compressed = quantizer.quantize(values, shape, layerBitsValue);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Layer '" + c.path + "': " + e.getMessage(), e);
        }
        CodebookWeight cw = CodebookWeight.of(compressed, weight.getManager());
        Parameter bias = c.block.getDirectParameters().contains("bias")
                ? c.block.getDirectParameters().get("bias")
                : null;
        NDArray biasArray = bias == null ? null : bias.getArray();
        Shape[] inputShapes = c.block.getInputShapes();
        Shape inputShape = inputShapes == null ? null : inputShapes[0];
        if (c.block instanceof Linear) {
            CodebookLinear.Builder b =
                    CodebookLinear.codebookBuilder()
                            .setWeight(cw)
                            .optBias(bias != null)
                            .optInputShape(inputShape)
                            .optLayerName(c.path)
                            .optMemoryMode(memoryMode);
            if (biasArray != null) {
                b.optBiasArray(biasArray);
            }
            return b.build();
        }
        CodebookConvolution.Builder b =
                CodebookConvolution.like((Convolution) c.block)
                        .setWeight(cw)
                        .optInputShape(inputShape)
                        .optLayerName(c.path)
                        .optMemoryMode(memoryMode);
        if (biasArray != null) {
            b.optBiasArray(biasArray);
        }
        return b.build();
    }

    private static final class Candidate {
        final String path;
        final Block block;

        Candidate(String path, Block block) {
            this.path = path;
            this.block = block;
        }
    }

    /** Builds a {@link CodebookTransformer}. */
    public static final class Builder {

        private WeightQuantizer quantizer;
        private int bits = 4;
        private Set<Class<? extends Block>> layerTypes = SUPPORTED_TYPES;
        private Predicate<String> pathFilter = p -> true;
        private long minWeights;
        private final Map<String, Integer> layerBits = new HashMap<>();
        private MemoryMode memoryMode = MemoryMode.PACKED;

        Builder() {}

        /**
         * Sets how weights are quantized.
         *
         * @param quantizer the quantizer
         * @return this builder
         */
        public Builder setQuantizer(WeightQuantizer quantizer) {
            this.quantizer = quantizer;
            return this;
        }

        /**
         * Sets the index width of every selected layer (default 4).
         *
         * @param bits 1 to 8
         * @return this builder
         */
        public Builder optBits(int bits) {
            this.bits = bits;
            return this;
        }

        /**
         * Sets the bits of one layer, by path, overriding {@link #optBits(int)}.
         *
         * @param path the layer's path
         * @param bits 1 to 8
         * @return this builder
         */
        public Builder optLayerBits(String path, int bits) {
            layerBits.put(path, bits);
            return this;
        }

        /**
         * Sets the layer types to replace (default: Linear, Conv1d, Conv2d, Conv3d).
         *
         * @param types a subset of {@link #SUPPORTED_TYPES}
         * @return this builder
         */
        public Builder optLayerTypes(Set<Class<? extends Block>> types) {
            this.layerTypes = Set.copyOf(types);
            return this;
        }

        /**
         * Sets a predicate on layer paths; only layers it accepts are replaced (default: all).
         *
         * @param pathFilter the predicate
         * @return this builder
         */
        public Builder optPathFilter(Predicate<String> pathFilter) {
            this.pathFilter = pathFilter;
            return this;
        }

        /**
         * Skips layers with fewer weights than this (default 0).
         *
         * @param minWeights the minimum weight count
         * @return this builder
         */
        public Builder optMinWeights(long minWeights) {
            this.minWeights = minWeights;
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
         * @throws IllegalArgumentException if a setting is invalid
         */
        public CodebookTransformer build() {
            if (quantizer == null) {
                throw new IllegalArgumentException("a quantizer must be set");
            }
            CompressedWeight.checkBits(bits);
            layerBits.forEach(
                    (path, b) -> {
                        try {
                            CompressedWeight.checkBits(b);
                        } catch (IllegalArgumentException e) {
                            throw new IllegalArgumentException(
                                    "Layer '" + path + "': " + e.getMessage(), e);
                        }
                    });
            if (layerTypes.isEmpty()) {
                throw new IllegalArgumentException("no layer type selected");
            }
            for (Class<? extends Block> type : layerTypes) {
                if (!SUPPORTED_TYPES.contains(type)) {
                    throw new IllegalArgumentException(
                            "Layer type "
                                    + type.getName()
                                    + " is not supported; supported: Linear, Conv1d, Conv2d, Conv3d");
                }
            }
            if (minWeights < 0) {
                throw new IllegalArgumentException("minWeights must not be negative");
            }
            return new CodebookTransformer(this);
        }
    }
}
