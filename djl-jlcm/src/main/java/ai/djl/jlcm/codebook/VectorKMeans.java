package ai.djl.jlcm.codebook;

import java.util.Arrays;
import java.util.Random;

/**
 * Importance-weighted k-means of d-dimensional vectors, for vector codebooks.
 *
 * <p>A row-major weight is cut into consecutive vectors of {@code dim} values, and each vector maps
 * to one of {@code k} codewords of {@code dim} values. Importance is per weight: the distance of a
 * vector v with importances h to a codeword c is {@code sum_j h_j (v_j - c_j)^2}, and a centroid's
 * coordinate j is the h-weighted mean of its members' coordinate j (their plain mean when their
 * importance in that coordinate sums to 0). A fit draws a random sample of at most 65536 vectors,
 * seeds it by weighted k-means++ and runs at most 25 Lloyd iterations on it; an empty cluster is
 * re-seeded with the sample vector farthest from its centroid. All randomness comes from the seed,
 * so a fit is deterministic.
 */
public final class VectorKMeans {

    private static final int MAX_K = 256;
    private static final int SAMPLE = 1 << 16;
    private static final int ITERATIONS = 25;

    private VectorKMeans() {}

    /**
     * Fits {@code k} codewords to the vectors of {@code values[from, from + length)}.
     *
     * @param values the weights, row-major (finite)
     * @param importance non-negative importance of each weight, in the layout of {@code values}, or
     *     {@code null} for uniform importance
     * @param from the index of the first value
     * @param length the number of values, a positive multiple of {@code dim}
     * @param dim the vector length
     * @param k the number of codewords, 1 to 256
     * @param seed the seed of the sampling and the k-means++ seeding
     * @return {@code k * dim} values, codeword i at {@code i * dim}; when there are fewer distinct
     *     vectors than {@code k}, some codewords repeat
     */
    public static float[] fit(
            float[] values, float[] importance, int from, int length, int dim, int k, long seed) {
        check(dim >= 1, "dim must be positive: " + dim);
        check(k >= 1 && k <= MAX_K, "k must be in [1, " + MAX_K + "]: " + k);
        check(from >= 0 && length > 0 && (long) from + length <= values.length,
                "range [" + from + ", " + from + " + " + length + ") is empty or outside "
                        + values.length + " values");
        check(length % dim == 0, "length " + length + " is not a multiple of dim " + dim);
        checkImportance(values, importance);
        for (int i = from; i < from + length; i++) {
            if (!Float.isFinite(values[i])) {
                check(false, "values must be finite: " + values[i] + " at " + i);
            }
            if (importance != null && !(importance[i] >= 0 && Float.isFinite(importance[i]))) {
                check(false, "importance must be finite and >= 0: " + importance[i] + " at " + i);
            }
        }
        Random random = new Random(seed);
        // selection sampling: m of the n vectors, in order, without replacement
        int n = length / dim;
        int m = Math.min(n, SAMPLE);
        float[] x = new float[m * dim];
        float[] h = importance == null ? null : new float[m * dim];
        for (int i = 0, s = 0; s < m; i++) {
            if (m == n || random.nextDouble() * (n - i) < m - s) {
                System.arraycopy(values, from + i * dim, x, s * dim, dim);
                if (h != null) {
                    System.arraycopy(importance, from + i * dim, h, s * dim, dim);
                }
                s++;
            }
        }
        float[] c = seed(x, h, m, dim, k, random);
        lloyd(x, h, m, dim, k, c);
        return c;
    }

    /**
     * Returns the index of the codeword nearest to the vector at {@code values[at, at + dim)} (the
     * lowest index on ties).
     *
     * @param values the weights
     * @param importance the importance of each weight, in the layout of {@code values}, or {@code
     *     null} for uniform importance
     * @param at the index of the vector's first value
     * @param codebook {@code k * dim} values, codeword i at {@code i * dim}
     * @param dim the vector length
     * @return the index of the nearest codeword
     */
    public static int nearest(
            float[] values, float[] importance, int at, float[] codebook, int dim) {
        if (dim < 1 || codebook.length < dim || codebook.length % dim != 0) {
            check(false, "codebook length " + codebook.length + " is not a multiple of dim " + dim);
        }
        if (at < 0 || (long) at + dim > values.length) {
            check(false, "vector at " + at + " of dim " + dim + " is outside " + values.length);
        }
        checkImportance(values, importance);
        return nearest(values, importance, at, codebook, codebook.length / dim, dim);
    }

    private static void checkImportance(float[] values, float[] importance) {
        if (importance != null && importance.length != values.length) {
            check(false, "importance length " + importance.length + " != " + values.length);
        }
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    private static int nearest(float[] x, float[] h, int at, float[] c, int k, int dim) {
        int best = 0;
        double bestDistance = Double.POSITIVE_INFINITY;
        for (int j = 0, cAt = 0; j < k; j++, cAt += dim) {
            double d = distance(x, h, at, c, cAt, dim);
            if (d < bestDistance) {
                bestDistance = d;
                best = j;
            }
        }
        return best;
    }

    private static double distance(float[] x, float[] h, int at, float[] c, int cAt, int dim) {
        double s = 0;
        if (h == null) {
            for (int j = 0; j < dim; j++) {
                double d = x[at + j] - c[cAt + j];
                s += d * d;
            }
        } else {
            for (int j = 0; j < dim; j++) {
                double d = x[at + j] - c[cAt + j];
                s += h[at + j] * d * d;
            }
        }
        return s;
    }

    /**
     * Weighted k-means++: each next codeword is a sample vector drawn with probability proportional
     * to its total importance times its distance to the nearest codeword so far. When that mass is
     * exhausted (fewer distinct vectors than k), the chosen codewords repeat.
     */
    private static float[] seed(float[] x, float[] h, int m, int dim, int k, Random random) {
        float[] c = new float[k * dim];
        double[] mass = new double[m];
        double[] d2 = new double[m];
        double[] p = new double[m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < dim; j++) {
                mass[i] += h == null ? 1 : h[i * dim + j];
            }
            d2[i] = Double.POSITIVE_INFINITY;
        }
        int first = pick(mass, random);
        System.arraycopy(x, (first < 0 ? random.nextInt(m) : first) * dim, c, 0, dim);
        int chosen = 1;
        for (; chosen < k; chosen++) {
            for (int i = 0; i < m; i++) {
                d2[i] = Math.min(d2[i], distance(x, h, i * dim, c, (chosen - 1) * dim, dim));
                p[i] = mass[i] * d2[i];
            }
            int next = pick(p, random);
            if (next < 0) {
                break;
            }
            System.arraycopy(x, next * dim, c, chosen * dim, dim);
        }
        for (int j = chosen; j < k; j++) {
            System.arraycopy(c, (j % chosen) * dim, c, j * dim, dim);
        }
        return c;
    }

    /** Draws an index with probability proportional to {@code p[i]}; -1 if all are 0. */
    private static int pick(double[] p, Random random) {
        double total = 0;
        for (double v : p) {
            total += v;
        }
        double u = random.nextDouble() * total;
        int last = -1;
        for (int i = 0; i < p.length && (last < 0 || u >= 0); i++) {
            if (p[i] > 0) {
                last = i;
                u -= p[i];
            }
        }
        return last;
    }

    /** Lloyd iterations on the sample, updating {@code c} in place. */
    private static void lloyd(float[] x, float[] h, int m, int dim, int k, float[] c) {
        int[] assigned = new int[m];
        Arrays.fill(assigned, -1);
        double[] dist = new double[m];
        int[] count = new int[k];
        for (int it = 0; it < ITERATIONS; it++) {
            Arrays.fill(count, 0);
            double[] sum = new double[k * dim];
            double[] wSum = new double[k * dim];
            double[] w = new double[k * dim];
            boolean changed = false;
            for (int i = 0, at = 0; i < m; i++, at += dim) {
                int a = nearest(x, h, at, c, k, dim);
                dist[i] = distance(x, h, at, c, a * dim, dim);
                changed |= a != assigned[i];
                assigned[i] = a;
                count[a]++;
                for (int j = 0, cj = a * dim; j < dim; j++, cj++) {
                    sum[cj] += x[at + j];
                    if (h != null) {
                        wSum[cj] += (double) h[at + j] * x[at + j];
                        w[cj] += h[at + j];
                    }
                }
            }
            if (!changed) {
                return;
            }
            for (int a = 0; a < k; a++) {
                for (int j = 0, cj = a * dim; count[a] > 0 && j < dim; j++, cj++) {
                    c[cj] = (float) (w[cj] > 0 ? wSum[cj] / w[cj] : sum[cj] / count[a]);
                }
                int far = 0;
                for (int i = 1; count[a] == 0 && i < m; i++) {
                    far = dist[i] > dist[far] ? i : far;
                }
                if (count[a] == 0 && dist[far] > 0) { // re-seed the empty cluster
                    System.arraycopy(x, far * dim, c, a * dim, dim);
                    dist[far] = 0;
                }
            }
        }
    }
}
