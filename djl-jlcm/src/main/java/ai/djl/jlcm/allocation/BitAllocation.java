package ai.djl.jlcm.allocation;

import ai.djl.jlcm.codebook.KMeansQuantizer;
import ai.djl.jlcm.codebook.WeightQuantizer;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.nn.CodebookMode;
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
 * <p>Sensitivity, data-free: the layer's relative quantization error {@code ‖W − Ŵ_b‖² / ‖W‖²} at
 * width {@code b}, with {@code Ŵ_b} the data-free quantization of its method (k-means for JLCM and
 * GPTQ-codebook, whose initialization it is; RTN's grid for GPTQ). It is the layer's relative output
 * error for inputs of uncorrelated, equal-power features, and does not depend on the weight's scale
 * (which a following normalization undoes). Layers of more than {@value #SAMPLE_WEIGHTS} weights
 * are measured on that many of their rows, evenly spaced (BERT's word table: 341 of 30 522), which
 * bounds the cost to about one k-means of that size per layer and width. The widths minimize the
 * sum over layers ({@link BitAllocator}).
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
        Map<String, LayerSettings> selected = CodebookTransformer.builder().optPlan(plan).build().selectedLayers(root);
        if (selected.isEmpty()) {
            throw new IllegalArgumentException("The layer selection matches no layer of the model");
        }
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
            load(source, stage);
            try {
                for (String path : owned) {
                    Block layer = tree.get(path);
                    byPath.put(path, new ModelLayer(path, layer, selected.get(path), places.get(layer.getDirectParameters().get("weight"))));
                }
            } finally {
                if (source != null) {
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
        Allocation allocation = new BitAllocator(CompressedWeight.MIN_BITS, CompressedWeight.MAX_BITS).allocate(layers, budget);
        logger.info(
                "Allocated widths for {} bits/weight: {} layers, {} bits/weight for the whole model, predicted error {}",
                targetBitsPerWeight,
                layers.size(),
                String.format(Locale.ROOT, "%.4f", allocation.bitsPerWeight()),
                String.format(Locale.ROOT, "%.5f", allocation.predictedError()));
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
        /** Evenly spaced whole rows of the weight, at most {@value #SAMPLE_WEIGHTS} values. */
        private final float[] sample;
        private final Shape sampleShape;
        private final LayerSettings settings;
        private final int places;
        private final WeightQuantizer quantizer;
        private final CodebookMode mode;
        private final int groups;

        ModelLayer(String path, Block layer, LayerSettings settings, int places) {
            this.path = path;
            this.settings = settings;
            this.places = places;
            shape = layer.getDirectParameters().get("weight").getArray().getShape();
            Method method = settings.getMethod();
            quantizer = method == Method.JLCM ? new KMeansQuantizer() : WeightQuantizer.of(method);
            // the stored form (mode, groups) depends on the rows only: read it from the first column
            long rows = shape.get(0);
            float[] column = new float[Math.toIntExact(rows)];
            CompressedWeight form = quantizer.quantize(column, new Shape(rows, 1), settings.toBuilder().optBits(CompressedWeight.MIN_BITS).build());
            mode = form.getMode();
            groups = form.getGroups();
            float[] all = Replacements.denseWeight(path, layer);
            int cols = Math.toIntExact(all.length / rows);
            int sampled = (int) Math.max(1, Math.min(rows, SAMPLE_WEIGHTS / cols));
            sample = new float[sampled * cols];
            for (int i = 0; i < sampled; i++) {
                System.arraycopy(all, (int) ((long) i * rows / sampled) * cols, sample, i * cols, cols);
            }
            sampleShape = new Shape(sampled, cols);
        }

        @Override
        public String path() {
            return path;
        }

        @Override
        public long storedBits(int bits) {
            return places * CompressedWeight.storedBits(shape, bits, mode, groups);
        }

        /**
         * {@inheritDoc} The relative error of the layer's quantization at this width, on evenly
         * spaced whole rows of at most {@value #SAMPLE_WEIGHTS} weights.
         */
        @Override
        public double error(int bits) {
            float[] w = sample;
            float[] decoded = quantizer.quantize(w, sampleShape, settings.toBuilder().optBits(bits).build()).decode();
            double diff = 0;
            double norm = 0;
            for (int i = 0; i < w.length; i++) {
                double d = w[i] - decoded[i];
                diff += d * d;
                norm += (double) w[i] * w[i];
            }
            return norm == 0 ? 0 : diff / norm;
        }
    }
}
