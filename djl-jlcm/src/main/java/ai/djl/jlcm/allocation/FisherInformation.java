package ai.djl.jlcm.allocation;

import ai.djl.jlcm.pipeline.FloatSource;
import ai.djl.jlcm.pipeline.Stage;
import ai.djl.jlcm.pipeline.Stages;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The diagonal of a float model's Fisher information for the weights of some layers, measured on
 * calibration inputs: {@code F_i = (1/S) Σ_s (∂ log p(y_s | x_s) / ∂w_i)²} over the {@code S}
 * calibration samples, where the first output of the model holds logits over its last axis and
 * {@code y_s} is drawn, at every position of sample {@code s}, from the model's own softmax there
 * (the Fisher information proper, so no labels are needed). For a small weight change {@code δ} the
 * expected KL divergence of the model's predictions from the float model's is about {@code ½ Σ F_i
 * δ_i²}: this is what {@link Sensitivity#FISHER} weighs each layer's quantization error by.
 *
 * <p>Each sample's gradient is its own backward pass (a batch's gradient squared would add the
 * samples' cross terms). The squares are summed in engine memory, one array the size of each
 * measured weight; then each layer keeps the rows the allocation measures, drawn by their Fisher mass
 * ({@link RowSample#byMass}: the few rows that carry most of it, such as a word table's frequent
 * tokens, are sure to be in), with their values, so the allocation needs no float weight again. The draws of labels come from {@code new Random(seed)}; run the engine
 * on one thread for a bit-reproducible result.
 */
public final class FisherInformation {

    private static final Logger logger = LoggerFactory.getLogger(FisherInformation.class);

    private final Map<String, RowSample> values;
    private final int samples;

    private FisherInformation(Map<String, RowSample> values, int samples) {
        this.values = Collections.unmodifiableMap(values);
        this.samples = samples;
    }

    /**
     * Measures the Fisher information of the weights of some layers of a float model.
     *
     * @param root the model's initialized block tree
     * @param paths the layers whose weights are measured (each a block with a {@code weight})
     * @param calibration input batches, samples along axis 0 of every array
     * @param source the model's float source, or null if its weights are in the tree: every stage is
     *     then loaded for the measurement (the whole float model is resident meanwhile, with one
     *     gradient per measured weight) and released again
     * @param seed the seed of the label draws
     * @param manager the manager of temporary arrays
     * @return the Fisher information of the sampled rows of each layer
     * @throws IllegalArgumentException if there is no calibration sample, a path names no layer with a
     *     weight, or an array of a batch is not split by samples along axis 0
     */
    public static FisherInformation measure(
            Block root, Collection<String> paths, List<NDList> calibration, FloatSource source, long seed, NDManager manager) {
        if (calibration.isEmpty()) {
            throw new IllegalArgumentException("The Fisher information needs calibration inputs");
        }
        long start = System.nanoTime();
        List<Stage> stages = source == null ? List.of() : Stages.of(root);
        try {
            for (Stage stage : stages) {
                source.load(stage);
            }
            FisherInformation fisher = measureLoaded(root, paths, calibration, seed, manager);
            logger.info(
                    "Fisher information of {} layers on {} calibration samples in {} s",
                    fisher.values.size(),
                    fisher.samples,
                    String.format(Locale.ROOT, "%.1f", (System.nanoTime() - start) / 1e9));
            return fisher;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            for (Stage stage : stages) {
                source.release(stage);
            }
            System.gc(); // the float values read in Java and the gradients' buffers are garbage now
        }
    }

    private static FisherInformation measureLoaded(
            Block root, Collection<String> paths, List<NDList> calibration, long seed, NDManager manager) {
        BlockTree tree = BlockTree.of(root);
        Map<String, NDArray> weights = new LinkedHashMap<>();
        for (String path : paths) {
            Block layer = tree.get(path);
            if (layer == null || layer.getDirectParameters().get("weight") == null) {
                throw new IllegalArgumentException("No layer with a weight at '" + path + "'");
            }
            weights.put(path, layer.getDirectParameters().get("weight").getArray());
        }
        // one sum of squared gradients per distinct weight (a weight two layers hold has one gradient)
        Map<NDArray, NDArray> sums = new IdentityHashMap<>();
        Map<NDArray, Boolean> hadGradient = new IdentityHashMap<>();
        Random random = new Random(seed);
        int samples = 0;
        try (NDManager held = manager.newSubManager()) {
            for (NDArray w : weights.values()) {
                if (!sums.containsKey(w)) {
                    sums.put(w, held.zeros(w.getShape()));
                    hadGradient.put(w, w.hasGradient());
                    w.setRequiresGradient(true);
                }
            }
            try {
                for (NDList batch : calibration) {
                    long n = batch.get(0).getShape().get(0);
                    for (long s = 0; s < n; s++) {
                        try (NDManager scope = manager.newSubManager()) {
                            NDList x = sample(batch, s, n, scope);
                            try (GradientCollector gc = manager.getEngine().newGradientCollector()) {
                                NDArray logits = root.forward(new ParameterStore(scope, false), x, false).get(0);
                                NDArray logP = logits.logSoftmax(-1);
                                NDArray drawn = drawnLabels(logP, random, scope);
                                gc.backward(logP.mul(drawn).sum().neg());
                            }
                            for (Map.Entry<NDArray, NDArray> e : sums.entrySet()) {
                                NDArray g = e.getKey().getGradient();
                                g.attach(scope);
                                e.getValue().addi(g.square());
                                g.subi(g);
                            }
                        }
                        samples++;
                    }
                }
            } finally {
                for (Map.Entry<NDArray, Boolean> e : hadGradient.entrySet()) {
                    if (!e.getValue()) {
                        e.getKey().setRequiresGradient(false);
                    }
                }
            }
            Map<String, RowSample> out = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> e : weights.entrySet()) {
                out.put(e.getKey(), sample(e.getValue(), sums.get(e.getValue()), samples, held));
            }
            return new FisherInformation(out, samples);
        }
    }

    /** The rows of a layer drawn by their Fisher mass, with their values and Fisher information. */
    private static RowSample sample(NDArray weight, NDArray sum, int samples, NDManager manager) {
        try (NDManager scope = manager.newSubManager()) {
            Shape shape = sum.getShape();
            long rows = shape.get(0);
            NDArray fisher = sum.reshape(rows, -1).div((float) samples);
            fisher.attach(scope);
            float[] rowSums = fisher.sum(new int[] {1}).toFloatArray();
            double[] mass = new double[rowSums.length];
            for (int i = 0; i < mass.length; i++) {
                mass[i] = rowSums[i];
            }
            RowSample picked = RowSample.byMass(mass, shape.size() / rows, BitAllocation.SAMPLE_WEIGHTS);
            long[] index = new long[picked.rows().length];
            for (int i = 0; i < index.length; i++) {
                index[i] = picked.rows()[i];
            }
            if (index.length == 0) {
                return picked.with(new float[0], new float[0]);
            }
            NDIndex at = new NDIndex("{}", scope.create(index));
            NDArray values = weight.reshape(rows, -1).get(at);
            values.attach(scope);
            return picked.with(values.toFloatArray(), fisher.get(at).toFloatArray());
        }
    }

    /** Sample {@code s} of a batch of {@code n}: every array's row {@code s}, axis 0 kept. */
    private static NDList sample(NDList batch, long s, long n, NDManager scope) {
        NDList out = new NDList();
        for (NDArray a : batch) {
            if (a.getShape().dimension() == 0 || a.getShape().get(0) != n) {
                throw new IllegalArgumentException(
                        "The Fisher information splits every input array into samples along axis 0, but an array of"
                                + " shape " + a.getShape() + " is not of the batch's " + n + " samples");
            }
            NDArray row = a.get(s + ":" + (s + 1));
            row.attach(scope);
            out.add(row);
        }
        return out;
    }

    /**
     * One label drawn from the softmax at each position, as a one-hot FLOAT32 array of the logits'
     * shape (a constant of the loss, kept open until the backward pass has run).
     */
    private static NDArray drawnLabels(NDArray logP, Random random, NDManager scope) {
        Shape shape = logP.getShape();
        int classes = Math.toIntExact(shape.get(shape.dimension() - 1));
        float[] p = logP.exp().toFloatArray();
        float[] oneHot = new float[p.length];
        for (int at = 0; at < p.length; at += classes) {
            double u = random.nextDouble();
            double cumulative = 0;
            int label = classes - 1;
            for (int k = 0; k < classes; k++) {
                cumulative += p[at + k];
                if (u < cumulative) {
                    label = k;
                    break;
                }
            }
            oneHot[at + label] = 1f;
        }
        return scope.create(oneHot, shape);
    }

    /**
     * Returns a layer's rows drawn by their Fisher mass ({@link RowSample#byMass}), with their
     * values and the Fisher information of each.
     *
     * @param path the layer's path
     * @return the sample, or null if the layer was not measured
     */
    RowSample of(String path) {
        return values.get(path);
    }

    /**
     * Returns the number of calibration samples measured.
     *
     * @return the samples
     */
    public int samples() {
        return samples;
    }
}
