package ai.djl.jlcm.codebook;

import java.util.Arrays;

/**
 * Weighted one-dimensional k-means.
 *
 * <p>In one dimension the optimal clusters are contiguous runs of the sorted values, so k-means can
 * be solved exactly by dynamic programming (with the divide-and-conquer speed-up, since the optimal
 * split points are monotone). Inputs with at most {@link #EXACT_LIMIT} distinct values are solved
 * exactly. Larger inputs are first summarized in a weighted histogram of {@link #EXACT_LIMIT} bins, the
 * histogram is solved exactly, and Lloyd iterations on the full data refine the result. The method
 * has no randomness: the same input always gives the same codebook.
 */
public final class KMeans1d {

    /** Inputs with at most this many distinct values are clustered exactly. */
    public static final int EXACT_LIMIT = 4096;

    private static final int MAX_LLOYD_ITERATIONS = 30;

    private KMeans1d() {}

    /**
     * Clusters values into {@code k} centroids.
     *
     * @param values the values (finite)
     * @param weights non-negative importance of each value, or {@code null} for uniform weights
     * @param k the number of centroids
     * @return {@code k} centroids in ascending order; when there are fewer distinct values than
     *     {@code k}, some centroids repeat
     */
    public static float[] fit(float[] values, float[] weights, int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be positive: " + k);
        }
        if (values.length == 0) {
            throw new IllegalArgumentException("cannot cluster an empty set of values");
        }
        if (weights != null && weights.length != values.length) {
            throw new IllegalArgumentException(
                    "weights length " + weights.length + " != values length " + values.length);
        }
        if (weights != null) {
            for (float w : weights) {
                if (!(w >= 0) || Float.isInfinite(w)) {
                    throw new IllegalArgumentException("weights must be finite and >= 0: " + w);
                }
            }
        }
        Points points = Points.summarize(values, weights);
        double[] centroids = exact(points, k);
        if (!points.exact) {
            centroids = lloyd(values, weights, centroids);
        }
        float[] out = new float[k];
        for (int i = 0; i < k; i++) {
            out[i] = (float) centroids[i];
        }
        Arrays.sort(out);
        return out;
    }

    /**
     * Returns the index of the nearest centroid for each value (the lower one on ties).
     *
     * @param values the values
     * @param sortedCentroids centroids in ascending order
     * @return the index of the nearest centroid of each value
     */
    public static int[] assign(float[] values, float[] sortedCentroids) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = nearest(values[i], sortedCentroids);
        }
        return out;
    }

    /**
     * Returns the index of the centroid nearest to {@code v} (the lower one on ties).
     *
     * @param v the value
     * @param sorted centroids in ascending order
     * @return the nearest index
     */
    public static int nearest(float v, float[] sorted) {
        int lo = 0;
        int hi = sorted.length - 1;
        // first index whose centroid is >= v
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < v) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (lo > 0 && v - sorted[lo - 1] <= sorted[lo] - v) {
            return lo - 1;
        }
        return lo;
    }

    /**
     * Returns the weighted sum of squared distances of values to their nearest centroid.
     *
     * @param values the values
     * @param weights the weights, or {@code null}
     * @param sortedCentroids centroids in ascending order
     * @return the k-means objective
     */
    public static double cost(float[] values, float[] weights, float[] sortedCentroids) {
        double sum = 0;
        for (int i = 0; i < values.length; i++) {
            double d = values[i] - sortedCentroids[nearest(values[i], sortedCentroids)];
            sum += (weights == null ? 1 : weights[i]) * d * d;
        }
        return sum;
    }

    private static double[] exact(Points p, int k) {
        int n = p.x.length;
        int clusters = Math.min(k, n);
        double[] sw = new double[n + 1];
        double[] swx = new double[n + 1];
        double[] swxx = new double[n + 1];
        for (int i = 0; i < n; i++) {
            sw[i + 1] = sw[i] + p.w[i];
            swx[i + 1] = swx[i] + p.w[i] * p.x[i];
            swxx[i + 1] = swxx[i] + p.w[i] * p.x[i] * p.x[i];
        }
        Cost cost = new Cost(sw, swx, swxx);
        double[] prev = new double[n + 1];
        double[] cur = new double[n + 1];
        int[][] split = new int[clusters + 1][n + 1];
        for (int j = 1; j <= n; j++) {
            prev[j] = cost.of(0, j);
        }
        for (int c = 2; c <= clusters; c++) {
            Arrays.fill(cur, Double.POSITIVE_INFINITY);
            solve(c, c, n, c - 1, n - 1, prev, cur, split[c], cost);
            double[] t = prev;
            prev = cur;
            cur = t;
        }
        // backtrack the cluster boundaries
        double[] centroids = new double[k];
        int end = n;
        for (int c = clusters; c >= 1; c--) {
            int start = c == 1 ? 0 : split[c][end];
            centroids[c - 1] = cost.mean(start, end);
            end = start;
        }
        for (int c = clusters; c < k; c++) {
            centroids[c] = centroids[clusters - 1];
        }
        return centroids;
    }

    /** Fills cur[j] for j in [lo, hi] knowing the optimal split lies in [optLo, optHi]. */
    private static void solve(
            int c,
            int lo,
            int hi,
            int optLo,
            int optHi,
            double[] prev,
            double[] cur,
            int[] split,
            Cost cost) {
        if (lo > hi) {
            return;
        }
        int mid = (lo + hi) >>> 1;
        double best = Double.POSITIVE_INFINITY;
        int bestSplit = optLo;
        int last = Math.min(mid - 1, optHi);
        for (int s = Math.max(optLo, c - 1); s <= last; s++) {
            double v = prev[s] + cost.of(s, mid);
            if (v < best) {
                best = v;
                bestSplit = s;
            }
        }
        cur[mid] = best;
        split[mid] = bestSplit;
        solve(c, lo, mid - 1, optLo, bestSplit, prev, cur, split, cost);
        solve(c, mid + 1, hi, bestSplit, optHi, prev, cur, split, cost);
    }

    private static double[] lloyd(float[] values, float[] weights, double[] init) {
        int k = init.length;
        float[] c = new float[k];
        for (int i = 0; i < k; i++) {
            c[i] = (float) init[i];
        }
        Arrays.sort(c);
        double[] sum = new double[k];
        double[] mass = new double[k];
        for (int iter = 0; iter < MAX_LLOYD_ITERATIONS; iter++) {
            Arrays.fill(sum, 0);
            Arrays.fill(mass, 0);
            for (int i = 0; i < values.length; i++) {
                int j = nearest(values[i], c);
                double w = weights == null ? 1 : weights[i];
                sum[j] += w * values[i];
                mass[j] += w;
            }
            boolean moved = false;
            for (int j = 0; j < k; j++) {
                if (mass[j] > 0) {
                    float next = (float) (sum[j] / mass[j]);
                    moved |= next != c[j];
                    c[j] = next;
                }
            }
            Arrays.sort(c);
            if (!moved) {
                break;
            }
        }
        double[] out = new double[k];
        for (int i = 0; i < k; i++) {
            out[i] = c[i];
        }
        return out;
    }

    /** Prefix sums giving the weighted squared error of a contiguous run in O(1). */
    private static final class Cost {
        final double[] sw;
        final double[] swx;
        final double[] swxx;

        Cost(double[] sw, double[] swx, double[] swxx) {
            this.sw = sw;
            this.swx = swx;
            this.swxx = swxx;
        }

        /** Cost of points [from, to). */
        double of(int from, int to) {
            double w = sw[to] - sw[from];
            if (w <= 0) {
                return 0;
            }
            double wx = swx[to] - swx[from];
            double v = swxx[to] - swxx[from] - wx * wx / w;
            return v > 0 ? v : 0;
        }

        double mean(int from, int to) {
            return (swx[to] - swx[from]) / (sw[to] - sw[from]);
        }
    }

    /** Weighted points in ascending order: the distinct values, or histogram bins. */
    private static final class Points {
        final double[] x;
        final double[] w;
        final boolean exact;

        private Points(double[] x, double[] w, boolean exact) {
            this.x = x;
            this.w = w;
            this.exact = exact;
        }

        static Points summarize(float[] values, float[] weights) {
            float[] sorted = values.clone();
            Arrays.sort(sorted);
            if (!Float.isFinite(sorted[0]) || !Float.isFinite(sorted[sorted.length - 1])) {
                throw new IllegalArgumentException("values must be finite");
            }
            int distinct = 1;
            for (int i = 1; i < sorted.length; i++) {
                if (sorted[i] != sorted[i - 1]) {
                    distinct++;
                }
            }
            if (distinct <= EXACT_LIMIT) {
                return distinctPoints(values, weights, sorted, distinct);
            }
            return histogram(values, weights, sorted[0], sorted[sorted.length - 1]);
        }

        private static Points distinctPoints(
                float[] values, float[] weights, float[] sorted, int distinct) {
            double[] x = new double[distinct];
            int d = 0;
            x[0] = sorted[0];
            for (int i = 1; i < sorted.length; i++) {
                if (sorted[i] != sorted[i - 1]) {
                    x[++d] = sorted[i];
                }
            }
            double[] w = new double[distinct];
            for (int i = 0; i < values.length; i++) {
                int pos = Arrays.binarySearch(x, values[i]);
                w[pos] += weights == null ? 1 : weights[i];
            }
            return withMass(x, w, true);
        }

        private static Points histogram(float[] values, float[] weights, float min, float max) {
            int bins = EXACT_LIMIT;
            double[] sw = new double[bins];
            double[] swx = new double[bins];
            double width = ((double) max - min) / bins;
            for (int i = 0; i < values.length; i++) {
                int b = (int) ((values[i] - min) / width);
                b = Math.min(Math.max(b, 0), bins - 1);
                double w = weights == null ? 1 : weights[i];
                sw[b] += w;
                swx[b] += w * values[i];
            }
            double[] x = new double[bins];
            for (int b = 0; b < bins; b++) {
                x[b] = sw[b] > 0 ? swx[b] / sw[b] : min + (b + 0.5) * width;
            }
            return withMass(x, sw, false);
        }

        /** Drops weightless points so every cluster of the DP has mass. */
        private static Points withMass(double[] x, double[] w, boolean exact) {
            int n = 0;
            for (double v : w) {
                if (v > 0) {
                    n++;
                }
            }
            if (n == 0) {
                throw new IllegalArgumentException("all weights are zero");
            }
            double[] xs = new double[n];
            double[] ws = new double[n];
            int j = 0;
            for (int i = 0; i < x.length; i++) {
                if (w[i] > 0) {
                    xs[j] = x[i];
                    ws[j++] = w[i];
                }
            }
            return new Points(xs, ws, exact);
        }
    }
}
