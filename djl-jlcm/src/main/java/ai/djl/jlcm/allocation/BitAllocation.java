package ai.djl.jlcm.allocation;

import ai.djl.jlcm.codebook.KMeansQuantizer;
import ai.djl.jlcm.codebook.WeightQuantizer;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.pipeline.FloatSource;
import ai.djl.jlcm.pipeline.Stage;
import ai.djl.jlcm.pipeline.Stages;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.jlcm.transform.Replacements;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * Allocates index widths to the layers a plan compresses so that the whole model, as {@link
 * ModelSize#modelBitsPerWeight()} measures it after compression, stores at most a target number of
 * bits per weight.
 *
 * <p>Budget: the target times the model's parameter count, minus the stored bits of every parameter
 * the plan does not compress (biases, norms, skipped layers, layers already compressed), counted as
 * {@code ModelSize} counts them. A layer's stored size at each width is computed in the form its
 * method stores (RTN: one codebook per row; k-means and JLCM: the plan's groups and mode, an upper
 * bound for JLCM, whose grouping may form fewer groups), indices, group ids, codebooks and scales
 * included.
 *
 * <p>Sensitivity: with {@code Ŵ_b} the data-free quantization of the layer's method at width {@code
 * b} (k-means for JLCM and GPTQ-codebook, whose initialization it is; RTN's grid for GPTQ), either
 * the relative error {@code ‖W − Ŵ_b‖² / ‖W‖²} ({@link Sensitivity#WEIGHT_ERROR}, data-free: the
 * layer's relative output error for inputs of uncorrelated, equal-power features, independent of the
 * weight's scale), or the error weighted by each weight's Fisher information, {@code Σ F_i (W_i −
 * Ŵ_b,i)²} ({@link Sensitivity#FISHER}, from a {@link FisherInformation} measured on calibration
 * inputs: a prediction of the change of the model's output distribution, comparable across layers of
 * any size). Layers of more than {@value #SAMPLE_WEIGHTS} weights are measured on that many of their
 * rows ({@link RowSample}; BERT's word table: 341 of 30 522): evenly spaced for the relative error,
 * drawn by their Fisher mass for the Fisher-weighted error (each row weighted so that the sum
 * estimates the whole layer's), which bounds the cost to about one k-means of that size per layer
 * and width. The widths minimize the sum over layers ({@link BitAllocator}).
 */
public final class BitAllocation {

    /** A layer's error is measured on at most this many of its weights (whole rows, evenly spaced). */
    static final int SAMPLE_WEIGHTS = 1 << 18;

    private static final Logger logger = LoggerFactory.getLogger(BitAllocation.class);

    private BitAllocation() {}

    /**
     * Allocates widths from 1 to 8 bits to the layers {@code plan} compresses.
     *
     * @param root the model's initialized block tree, float weights in the layers to compress
     * @param plan the plan (its methods, groups and modes; its bits are replaced)
     * @param targetBitsPerWeight the whole-model target
     * @return the widths
     * @throws IllegalArgumentException if the plan selects no layer, or the target is below what every
     *     layer at 1 bit gives (the message names that minimum)
     */
    public static Allocation allocate(Block root, CompressionPlan plan, double targetBitsPerWeight) {
        return allocate(root, plan, targetBitsPerWeight, null);
    }

    /**
     * Allocates widths from 1 to 8 bits to the layers {@code plan} compresses, in a model whose
     * float weights come from a source: each stage's weights are loaded to sample them and released
     * again.
     *
     * @param root the model's initialized block tree
     * @param plan the plan (its methods, groups and modes; its bits are replaced)
     * @param targetBitsPerWeight the whole-model target
     * @param source the model's float source, or null if the weights are in the tree
     * @return the widths
     * @throws IllegalArgumentException if the plan selects no layer, or the target is below what every
     *     layer at 1 bit gives (the message names that minimum)
     */
    public static Allocation allocate(Block root, CompressionPlan plan, double targetBitsPerWeight, FloatSource source) {
        return allocate(root, plan, targetBitsPerWeight, source, null);
    }

    /**
     * Allocates widths from 1 to 8 bits to the layers {@code plan} compresses, each layer's
     * quantization error weighted by the Fisher information of its weights.
     *
     * @param root the model's initialized block tree
     * @param plan the plan (its methods, groups and modes; its bits are replaced)
     * @param targetBitsPerWeight the whole-model target
     * @param source the model's float source, or null if the weights are in the tree
     * @param fisher the Fisher information of the float model's layers ({@link
     *     FisherInformation#measure}), or null for the data-free relative error
     * @return the widths
     * @throws IllegalArgumentException if the plan selects no layer, the target is below what every
     *     layer at 1 bit gives (the message names that minimum), or {@code fisher} lacks a layer
     */
    public static Allocation allocate(
            Block root, CompressionPlan plan, double targetBitsPerWeight, FloatSource source, FisherInformation fisher) {
        return allocate(root, plan, targetBitsPerWeight, source, fisher, CompressedWeight.MIN_BITS);
    }

    /**
     * Allocates widths from {@code minBits} to 8 bits (to {@code 8 / vectorLength} with vector
     * codebooks) to the layers {@code plan} compresses,
     * weighting each layer's quantization error by the Fisher information of its weights, or by the
     * data-free relative error.
     *
     * @param root the model's initialized block tree
     * @param plan the plan (its methods, groups and modes; its bits are replaced)
     * @param targetBitsPerWeight the whole-model target
     * @param source the model's float source, or null if the weights are in the tree
     * @param fisher the Fisher information of the float model's layers ({@link
     *     FisherInformation#measure}), or null for the data-free relative error
     * @param minBits the narrowest width a layer may get, 1 to 8
     * @return the widths
     * @throws IllegalArgumentException if the plan selects no layer, {@code minBits} is outside 1 to
     *     8, the target is below what every layer at {@code minBits} gives (the message names that
     *     minimum), or {@code fisher} lacks a layer
     */
    public static Allocation allocate(
            Block root, CompressionPlan plan, double targetBitsPerWeight, FloatSource source, FisherInformation fisher, int minBits) {
        long start = System.nanoTime();
        Map<String, LayerSettings> selected = CodebookTransformer.builder().optPlan(plan).build().selectedLayers(root);
        if (selected.isEmpty()) {
            throw new IllegalArgumentException("The layer selection matches no layer of the model");
        }
        // a vector codebook's index holds bits · vectorLength bits: the widest vectors cap every layer
        int vectorLength = selected.values().stream().mapToInt(LayerSettings::getVectorLength).max().orElse(1);
        BitAllocator allocator = new BitAllocator(minBits, CompressedWeight.MAX_BITS / vectorLength);
        BlockTree tree = BlockTree.of(root);
        Map<Parameter, Integer> places = new IdentityHashMap<>();
        for (String path : selected.keySet()) {
            places.put(tree.get(path).getDirectParameters().get("weight"), 0);
        }
        long weightBits = 0;
        for (Pair<String, Parameter> p : root.getParameters()) {
            Parameter param = p.getValue();
            if (places.containsKey(param)) {
                places.merge(param, 1, Integer::sum);
                NDArray a = param.getArray();
                weightBits += 8 * a.size() * a.getDataType().getNumOfBytes();
            }
        }
        ModelSize size = ModelSize.of(root);
        SizeBudget budget = new SizeBudget(size.parameterCount(), 8 * size.storedBytes() - weightBits, targetBitsPerWeight);
        Map<String, ModelLayer> byPath = new HashMap<>();
        for (Stage stage : source == null ? List.of(Stages.whole(root)) : Stages.of(root)) {
            List<String> owned = new ArrayList<>(selected.keySet());
            owned.removeIf(path -> !stage.owns(path));
            if (owned.isEmpty()) {
                continue;
            }
            if (fisher == null) {
                load(source, stage); // the Fisher information holds its rows' values
            }
            try {
                for (String path : owned) {
                    Block layer = tree.get(path);
                    RowSample rows = null;
                    if (fisher != null) {
                        rows = fisher.of(path);
                        if (rows == null) {
                            throw new IllegalArgumentException("The Fisher information has no values for layer '" + path + "'");
                        }
                    }
                    IntFunction<LayerSettings> atWidth = bits -> plan.resolve(path, layer, bits);
                    byPath.put(path, new ModelLayer(path, layer, atWidth, places.get(layer.getDirectParameters().get("weight")), rows));
                }
            } finally {
                if (source != null && fisher == null) {
                    source.release(stage);
                }
            }
        }
        List<ModelLayer> layers = new ArrayList<>();
        for (String path : selected.keySet()) {
            if (!byPath.containsKey(path)) {
                throw new IllegalArgumentException("Layer '" + path + "' belongs to no stage of the model");
            }
            layers.add(byPath.get(path));
        }
        Allocation allocation = allocator.allocate(layers, budget);
        logger.info(
                "Allocated widths of {} to {} bits for {} bits/weight ({}): {} layers, {} bits/weight for the whole model, predicted error {}, in {} s",
                minBits,
                CompressedWeight.MAX_BITS / vectorLength,
                targetBitsPerWeight,
                fisher == null ? Sensitivity.WEIGHT_ERROR : Sensitivity.FISHER,
                layers.size(),
                String.format(Locale.ROOT, "%.4f", allocation.bitsPerWeight()),
                String.format(Locale.ROOT, "%.5f", allocation.predictedError()),
                String.format(Locale.ROOT, "%.1f", (System.nanoTime() - start) / 1e9));
        allocation.bits().forEach((path, bits) -> logger.info("  {}: {} bits", path, bits));
        return allocation;
    }

    private static void load(FloatSource source, Stage stage) {
        if (source == null) {
            return;
        }
        try {
            source.load(stage);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A layer of the model, its stored form and its quantization error at each width. */
    private static final class ModelLayer implements AllocationLayer {

        private final String path;
        private final Shape shape;
        /** The sampled rows' weights, at most {@value #SAMPLE_WEIGHTS} values. */
        private final float[] sample;
        private final Shape sampleShape;
        private final RowSample rows;
        /** The layer's settings at each width (the plan's mode may depend on it). */
        private final IntFunction<LayerSettings> atWidth;
        private final int places;
        private final WeightQuantizer quantizer;

        /**
         * A layer; {@code fisherRows} are the rows drawn by their Fisher mass, with their Fisher
         * information, or null to measure the relative error on evenly spaced rows.
         */
        ModelLayer(String path, Block layer, IntFunction<LayerSettings> atWidth, int places, RowSample fisherRows) {
            this.path = path;
            this.atWidth = atWidth;
            this.places = places;
            shape = layer.getDirectParameters().get("weight").getArray().getShape();
            Method method = atWidth.apply(CompressedWeight.MIN_BITS).getMethod();
            quantizer = method == Method.JLCM ? new KMeansQuantizer() : WeightQuantizer.of(method);
            long rows = shape.get(0);
            int cols = Math.toIntExact(shape.size() / rows);
            if (fisherRows != null) {
                this.rows = fisherRows;
                sample = fisherRows.values();
            } else {
                float[] all = Replacements.denseWeight(path, layer);
                this.rows = RowSample.evenlySpaced(rows, cols, SAMPLE_WEIGHTS);
                int[] sampled = this.rows.rows();
                sample = new float[sampled.length * cols];
                for (int i = 0; i < sampled.length; i++) {
                    System.arraycopy(all, sampled[i] * cols, sample, i * cols, cols);
                }
            }
            sampleShape = new Shape(this.rows.rows().length, cols);
        }

        @Override
        public String path() {
            return path;
        }

        @Override
        public long storedBits(int bits) {
            // the stored form (mode, groups) depends on the rows only: read it from the first column
            long rows = shape.get(0);
            LayerSettings settings = atWidth.apply(bits);
            LayerSettings scalar = settings.toBuilder().optVectorLength(1).build();
            CompressedWeight form = quantizer.quantize(new float[Math.toIntExact(rows)], new Shape(rows, 1), scalar);
            return places
                    * CompressedWeight.storedBits(
                            shape, settings.getIndexBits(), settings.getVectorLength(), form.getMode(), form.getGroups());
        }

        /**
         * {@inheritDoc} The relative error of the layer's quantization at this width, or its
         * Fisher-weighted error scaled to all rows, on evenly spaced whole rows of at most {@value
         * #SAMPLE_WEIGHTS} weights.
         */
        @Override
        public double error(int bits) {
            float[] w = sample;
            if (w.length == 0) {
                return 0; // no row has Fisher information: no width changes the output
            }
            float[] decoded = quantizer.quantize(w, sampleShape, atWidth.apply(bits)).decode();
            float[] fisher = rows.fisher();
            int cols = Math.toIntExact(sampleShape.get(1));
            double diff = 0;
            double norm = 0;
            for (int i = 0; i < w.length; i++) {
                double d = w[i] - decoded[i];
                diff += fisher == null ? d * d : rows.weights()[i / cols] * fisher[i] * d * d;
                norm += (double) w[i] * w[i];
            }
            if (fisher != null) {
                return diff;
            }
            return norm == 0 ? 0 : diff / norm;
        }
    }
}
