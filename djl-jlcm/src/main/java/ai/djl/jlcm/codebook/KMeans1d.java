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

    private static final int MAX_LLOYD_ITERATIONS = 100;

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
        Sorted sorted = Sorted.of(values, weights);
        Points points = Points.summarize(sorted);
        double[] centroids = exact(points, k);
        if (!points.exact) {
            centroids = sorted.lloyd(centroids);
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

    /**
     * The values in ascending order with their weights, and prefix sums of the weights and weighted
     * values kept every {@value #BLOCK} positions (a prefix sum at any position continues the stored
     * one with the same additions, so it equals a full prefix array's bit for bit, at 1/{@value
     * #BLOCK} of its memory: 16 bytes per value would be 2 GB for a 131 M-weight token table).
     */
    private static final class Sorted {
        static final int BLOCK = 64;

        final float[] x;
        /** The weights in the order of {@link #x}, or null for uniform weights. */
        final float[] w;
        final double[] blockW;
        final double[] blockWx;

        private Sorted(float[] x, float[] w) {
            this.x = x;
            this.w = w;
            int n = x.length;
            blockW = new double[n / BLOCK + 1];
            blockWx = new double[n / BLOCK + 1];
            double cw = 0;
            double cwx = 0;
            for (int i = 0; i < n; i++) {
                if (i % BLOCK == 0) {
                    blockW[i / BLOCK] = cw;
                    blockWx[i / BLOCK] = cwx;
                }
                double wi = weight(i);
                cw = cw + wi;
                cwx = cwx + wi * x[i];
            }
            if (n % BLOCK == 0) {
                blockW[n / BLOCK] = cw;
                blockWx[n / BLOCK] = cwx;
            }
        }

        static Sorted of(float[] values, float[] weights) {
            int n = values.length;
            float[] x = new float[n];
            float[] w = null;
            if (weights == null) {
                System.arraycopy(values, 0, x, 0, n);
                Arrays.sort(x);
            } else {
                // sort (value, index) pairs as longs: order-preserving float bits, then index
                long[] keys = new long[n];
                for (int i = 0; i < n; i++) {
                    int bits = Float.floatToIntBits(values[i]);
                    bits ^= (bits >> 31) & 0x7fffffff;
                    keys[i] = ((long) bits << 32) | i;
                }
                Arrays.sort(keys);
                w = new float[n];
                for (int i = 0; i < n; i++) {
                    int idx = (int) keys[i];
                    x[i] = values[idx];
                    w[i] = weights[idx];
                }
            }
            if (!Float.isFinite(x[0]) || !Float.isFinite(x[n - 1])) {
                throw new IllegalArgumentException("values must be finite");
            }
            return new Sorted(x, w);
        }

        double weight(int i) {
            return w == null ? 1 : w[i];
        }

        /** The total weight of positions {@code [0, i)}. */
        double cw(int i) {
            double sum = blockW[i / BLOCK];
            for (int j = i - i % BLOCK; j < i; j++) {
                sum = sum + weight(j);
            }
            return sum;
        }

        /** The weighted sum of the values at positions {@code [0, i)}. */
        double cwx(int i) {
            double sum = blockWx[i / BLOCK];
            for (int j = i - i % BLOCK; j < i; j++) {
                sum = sum + weight(j) * x[j];
            }
            return sum;
        }

        /** Lloyd iterations; each assigns by the midpoints between centroids with binary search. */
        double[] lloyd(double[] init) {
            int k = init.length;
            float[] c = new float[k];
            for (int i = 0; i < k; i++) {
                c[i] = (float) init[i];
            }
            Arrays.sort(c);
            int n = x.length;
            for (int iter = 0; iter < MAX_LLOYD_ITERATIONS; iter++) {
                boolean moved = false;
                int from = 0;
                for (int j = 0; j < k; j++) {
                    int to = j == k - 1 ? n : upperBound(c[j], c[j + 1]);
                    double mass = cw(to) - cw(from);
                    if (mass > 0) {
                        float next = (float) ((cwx(to) - cwx(from)) / mass);
                        moved |= next != c[j];
                        c[j] = next;
                    }
                    from = to;
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

        /** First position whose value is nearer to {@code hi} than to {@code lo} (ties go low). */
        private int upperBound(float lo, float hi) {
            int a = 0;
            int b = x.length;
            while (a < b) {
                int mid = (a + b) >>> 1;
                if (x[mid] - lo <= hi - x[mid]) {
                    a = mid + 1;
                } else {
                    b = mid;
                }
            }
            return a;
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

        static Points summarize(Sorted s) {
            float[] sorted = s.x;
            int distinct = 1;
            for (int i = 1; i < sorted.length; i++) {
                if (sorted[i] != sorted[i - 1]) {
                    distinct++;
                }
            }
            return distinct <= EXACT_LIMIT ? distinctPoints(s, distinct) : histogram(s);
        }

        private static Points distinctPoints(Sorted s, int distinct) {
            double[] x = new double[distinct];
            double[] w = new double[distinct];
            int d = 0;
            x[0] = s.x[0];
            w[0] = s.weight(0);
            for (int i = 1; i < s.x.length; i++) {
                if (s.x[i] != s.x[i - 1]) {
                    x[++d] = s.x[i];
                }
                w[d] += s.weight(i);
            }
            return withMass(x, w, true);
        }

        private static Points histogram(Sorted s) {
            int bins = EXACT_LIMIT;
            float min = s.x[0];
            float max = s.x[s.x.length - 1];
            double width = ((double) max - min) / bins;
            double[] sw = new double[bins];
            double[] x = new double[bins];
            int from = 0;
            for (int b = 0; b < bins; b++) {
                int to = from;
                double upper = min + (b + 1) * width;
                while (to < s.x.length && (b == bins - 1 || s.x[to] < upper)) {
                    to++;
                }
                sw[b] = s.cw(to) - s.cw(from);
                x[b] = sw[b] > 0 ? (s.cwx(to) - s.cwx(from)) / sw[b] : min + (b + 0.5) * width;
                from = to;
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
