package ai.djl.jlcm.grouping;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/**
 * A grouping of the output neurons (rows) of a weight matrix by the distribution of their weights.
 *
 * <p>Each neuron {@code o} is described by its shape, the {@value #QUANTILES} quantiles of its
 * weights divided by their RMS {@code σ_o} at probabilities {@code (i + 0.5) / 8}, and by its
 * scale, {@code √8 · ln σ_o}. The factor {@code √8} is the norm of the quantile vector of a row
 * with unit RMS (the mean of its squared quantiles approximates the mean square, 1), so a relative
 * scale change {@code ε} moves the descriptor about as far ({@code √8 · ε}) as it moves the
 * quantiles of the row under a shared scale: scale and shape are measured in the same unit. Both
 * parts are dimensionless, so no standardization across neurons is needed, and none is done: it
 * would blow a dimension that varies only by sampling noise (the scale of a homogeneous layer, say)
 * up to the weight of a real difference.
 *
 * <p>The descriptors are clustered by k-means: the best of a few runs of k-means++ seeding and
 * Lloyd iterations, all drawn from {@code new Random(seed)}, so the result is deterministic. Groups are numbered by ascending mean {@code ln σ} of their neurons (ties by the
 * smallest neuron index), so labels do not depend on the seeding order.
 */
public final class NeuronGrouping {

    /** The number of quantiles in a descriptor. */
    public static final int QUANTILES = 8;

    /** The length of a descriptor: the quantiles followed by the scaled log RMS. */
    public static final int DESCRIPTOR_LENGTH = QUANTILES + 1;

    private static final double MIN_SIGMA = 1e-12;
    private static final double SCALE_WEIGHT = Math.sqrt(QUANTILES);

    private final int[] groupOf;
    private final int[] permutation;
    private final int[] boundaries;

    private NeuronGrouping(int[] groupOf, int groups) {
        this.groupOf = groupOf;
        boundaries = new int[groups + 1];
        for (int g : groupOf) {
            boundaries[g + 1]++;
        }
        for (int g = 0; g < groups; g++) {
            boundaries[g + 1] += boundaries[g];
        }
        permutation = new int[groupOf.length];
        int[] next = Arrays.copyOf(boundaries, groups);
        for (int o = 0; o < groupOf.length; o++) {
            permutation[next[groupOf[o]]++] = o;
        }
    }

    /**
     * Groups the rows of a row-major weight matrix.
     *
     * @param weight the weights, {@code rows × cols}, row-major, finite
     * @param rows the number of rows (output neurons)
     * @param cols the number of columns (inputs)
     * @param groups the maximum number of groups
     * @param seed the seed of the k-means++ seeding
     * @return the grouping, with {@code min(groups, rows, distinct descriptors)} groups
     */
    public static NeuronGrouping of(float[] weight, int rows, int cols, int groups, long seed) {
        Objects.requireNonNull(weight, "weight");
        if (rows < 1 || cols < 1 || groups < 1) {
            throw new IllegalArgumentException(
                    "rows, cols and groups must be positive: "
                            + rows
                            + ", "
                            + cols
                            + ", "
                            + groups);
        }
        if (weight.length != (long) rows * cols) {
            throw new IllegalArgumentException(
                    "weight length " + weight.length + " != rows * cols = " + rows + " * " + cols);
        }
        checkFinite(weight, 0, weight.length);
        if (Math.min(groups, rows) == 1) {
            return new NeuronGrouping(new int[rows], 1);
        }
        float[][] descriptors = new float[rows][];
        float[] scratch = new float[cols];
        double[] points = new double[rows * DESCRIPTOR_LENGTH];
        for (int o = 0; o < rows; o++) {
            descriptors[o] = describe(weight, o, cols, scratch);
            for (int j = 0; j < DESCRIPTOR_LENGTH; j++) {
                points[o * DESCRIPTOR_LENGTH + j] = descriptors[o][j];
            }
        }
        int k = Math.min(Math.min(groups, rows), distinct(descriptors));
        int[] clusters = KMeans.cluster(points, DESCRIPTOR_LENGTH, k, new Random(seed));
        return relabel(clusters, k, descriptors);
    }

    /**
     * Returns the descriptor of one neuron: the {@value #QUANTILES} quantiles of {@code w / σ} at
     * probabilities {@code (i + 0.5) / 8} (linear interpolation between order statistics), then
     * {@code √8 · ln σ}, where {@code σ} is the RMS of the row, at least {@code 1e-12}.
     *
     * @param weight the weights, row-major
     * @param row the row of the neuron
     * @param cols the number of columns
     * @return the descriptor, {@link #DESCRIPTOR_LENGTH} values
     */
    public static float[] descriptor(float[] weight, int row, int cols) {
        if (cols < 1 || row < 0 || (long) (row + 1) * cols > weight.length) {
            throw new IllegalArgumentException(
                    "row "
                            + row
                            + " of "
                            + cols
                            + " columns is outside "
                            + weight.length
                            + " weights");
        }
        checkFinite(weight, row * cols, (row + 1) * cols);
        return describe(weight, row, cols, new float[cols]);
    }

    /**
     * Returns the number of groups.
     *
     * @return the number of groups, all non-empty
     */
    public int groups() {
        return boundaries.length - 1;
    }

    /**
     * Returns the group of each neuron.
     *
     * @return the group of each neuron, in {@code [0, groups())}
     */
    public int[] groupOf() {
        return groupOf.clone();
    }

    /**
     * Returns the neurons ordered by group, ascending within a group.
     *
     * @return the neuron indices, each group contiguous, group 0 first
     */
    public int[] permutation() {
        return permutation.clone();
    }

    /**
     * Returns the offsets of the groups in {@link #permutation()}: group {@code g} is {@code
     * permutation()[boundaries[g] .. boundaries[g + 1])}.
     *
     * @return {@code groups() + 1} ascending offsets, from 0 to the number of neurons
     */
    public int[] boundaries() {
        return boundaries.clone();
    }

    private static float[] describe(float[] weight, int row, int cols, float[] scratch) {
        System.arraycopy(weight, row * cols, scratch, 0, cols);
        double sumSquares = 0;
        for (float w : scratch) {
            sumSquares += (double) w * w;
        }
        double sigma = Math.max(Math.sqrt(sumSquares / cols), MIN_SIGMA);
        Arrays.sort(scratch);
        float[] out = new float[DESCRIPTOR_LENGTH];
        for (int i = 0; i < QUANTILES; i++) {
            double h = (i + 0.5) / QUANTILES * (cols - 1);
            int lo = (int) h;
            int hi = Math.min(lo + 1, cols - 1);
            double q = scratch[lo] + (h - lo) * ((double) scratch[hi] - scratch[lo]);
            out[i] = (float) (q / sigma);
        }
        out[QUANTILES] = (float) (SCALE_WEIGHT * Math.log(sigma));
        return out;
    }

    private static void checkFinite(float[] weight, int from, int to) {
        for (int i = from; i < to; i++) {
            if (!Float.isFinite(weight[i])) {
                throw new IllegalArgumentException("weight[" + i + "] is not finite: " + weight[i]);
            }
        }
    }

    /** Counts the distinct descriptors (equal as numbers, so 0 and -0 are one value). */
    private static int distinct(float[][] descriptors) {
        Comparator<float[]> byValue =
                (a, b) -> {
                    for (int j = 0; j < a.length; j++) {
                        if (a[j] != b[j]) {
                            return a[j] < b[j] ? -1 : 1;
                        }
                    }
                    return 0;
                };
        float[][] sorted = descriptors.clone();
        Arrays.sort(sorted, byValue);
        int count = 1;
        for (int i = 1; i < sorted.length; i++) {
            if (byValue.compare(sorted[i - 1], sorted[i]) != 0) {
                count++;
            }
        }
        return count;
    }

    /** Drops empty clusters and numbers the others by ascending mean log RMS, then first neuron. */
    private static NeuronGrouping relabel(int[] clusters, int k, float[][] descriptors) {
        int[] counts = new int[k];
        double[] meanScale = new double[k];
        int[] first = new int[k];
        for (int o = clusters.length - 1; o >= 0; o--) {
            int c = clusters[o];
            counts[c]++;
            meanScale[c] += descriptors[o][QUANTILES];
            first[c] = o;
        }
        List<Integer> order = new ArrayList<>();
        for (int c = 0; c < k; c++) {
            if (counts[c] > 0) {
                meanScale[c] /= counts[c];
                order.add(c);
            }
        }
        order.sort(
                Comparator.<Integer>comparingDouble(c -> meanScale[c])
                        .thenComparingInt(c -> first[c]));
        int[] label = new int[k];
        for (int g = 0; g < order.size(); g++) {
            label[order.get(g)] = g;
        }
        int[] groupOf = new int[clusters.length];
        for (int o = 0; o < clusters.length; o++) {
            groupOf[o] = label[clusters[o]];
        }
        return new NeuronGrouping(groupOf, order.size());
    }
}
