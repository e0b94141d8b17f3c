package ai.djl.jlcm.grouping;

import java.util.Random;

/** Multi-dimensional k-means: k-means++ seeding followed by Lloyd iterations. */
final class KMeans {

    private static final int MAX_ITERATIONS = 100;
    private static final int RESTARTS = 8;

    private KMeans() {}

    /**
     * Clusters points into {@code k} clusters.
     *
     * <p>Each of {@link #RESTARTS} runs seeds by k-means++ and then runs Lloyd iterations until no
     * assignment changes or {@link #MAX_ITERATIONS} are done; a cluster that becomes empty is
     * re-seeded with the point farthest from its own centroid. The run with the lowest sum of
     * squared distances wins (the first on ties), which guards against the local optimum of two
     * seeds in one cluster.
     *
     * @param points the points, row-major, {@code dim} coordinates each
     * @param dim the number of coordinates of a point
     * @param k the number of clusters, at most the number of distinct points
     * @param random the source of randomness for the seeding
     * @return the cluster of each point, in {@code [0, k)}
     */
    static int[] cluster(double[] points, int dim, int k, Random random) {
        int[] best = null;
        double bestCost = Double.POSITIVE_INFINITY;
        for (int run = 0; run < RESTARTS; run++) {
            double[] centroids = seed(points, dim, k, random);
            int[] assignment = new int[points.length / dim];
            assign(points, dim, centroids, assignment);
            for (int it = 0; it < MAX_ITERATIONS; it++) {
                update(points, dim, assignment, centroids);
                if (!assign(points, dim, centroids, assignment)) {
                    break;
                }
            }
            double cost = 0;
            for (int i = 0; i < assignment.length; i++) {
                cost += distance(points, i * dim, centroids, assignment[i] * dim, dim);
            }
            if (cost < bestCost) {
                best = assignment;
                bestCost = cost;
            }
        }
        return best;
    }

    /** Picks {@code k} distinct initial centroids by k-means++ (D² weighting). */
    private static double[] seed(double[] points, int dim, int k, Random random) {
        int n = points.length / dim;
        double[] centroids = new double[k * dim];
        int pick = random.nextInt(n);
        System.arraycopy(points, pick * dim, centroids, 0, dim);
        double[] d2 = new double[n];
        for (int i = 0; i < n; i++) {
            d2[i] = distance(points, i * dim, centroids, 0, dim);
        }
        for (int c = 1; c < k; c++) {
            double total = 0;
            for (double d : d2) {
                total += d;
            }
            double r = random.nextDouble() * total;
            double cumulative = 0;
            for (int i = 0; i < n; i++) {
                if (d2[i] > 0) { // the last positive one, should rounding leave r unreached
                    pick = i;
                    cumulative += d2[i];
                    if (cumulative > r) {
                        break;
                    }
                }
            }
            System.arraycopy(points, pick * dim, centroids, c * dim, dim);
            for (int i = 0; i < n; i++) {
                d2[i] = Math.min(d2[i], distance(points, i * dim, centroids, c * dim, dim));
            }
        }
        return centroids;
    }

    /** Assigns each point to its nearest centroid (the lowest index on ties); true if any moved. */
    private static boolean assign(double[] points, int dim, double[] centroids, int[] assignment) {
        int k = centroids.length / dim;
        boolean changed = false;
        for (int i = 0; i < assignment.length; i++) {
            int best = 0;
            double bestDistance = Double.POSITIVE_INFINITY;
            for (int c = 0; c < k; c++) {
                double d = distance(points, i * dim, centroids, c * dim, dim);
                if (d < bestDistance) {
                    bestDistance = d;
                    best = c;
                }
            }
            if (assignment[i] != best) {
                assignment[i] = best;
                changed = true;
            }
        }
        return changed;
    }

    /** Moves each centroid to the mean of its points and re-seeds the empty ones. */
    private static void update(double[] points, int dim, int[] assignment, double[] centroids) {
        int k = centroids.length / dim;
        int[] counts = new int[k];
        double[] sums = new double[k * dim];
        for (int i = 0; i < assignment.length; i++) {
            counts[assignment[i]]++;
            for (int j = 0; j < dim; j++) {
                sums[assignment[i] * dim + j] += points[i * dim + j];
            }
        }
        for (int c = 0; c < k; c++) {
            if (counts[c] > 0) {
                for (int j = 0; j < dim; j++) {
                    centroids[c * dim + j] = sums[c * dim + j] / counts[c];
                }
            }
        }
        double[] spread = null;
        for (int c = 0; c < k; c++) {
            if (counts[c] > 0) {
                continue;
            }
            if (spread == null) {
                spread = new double[assignment.length];
                for (int i = 0; i < spread.length; i++) {
                    spread[i] = distance(points, i * dim, centroids, assignment[i] * dim, dim);
                }
            }
            int farthest = 0;
            for (int i = 1; i < spread.length; i++) {
                if (spread[i] > spread[farthest]) {
                    farthest = i;
                }
            }
            spread[farthest] = -1; // not again for another empty cluster
            System.arraycopy(points, farthest * dim, centroids, c * dim, dim);
        }
    }

    /** Squared Euclidean distance between {@code a[from..from+dim)} and {@code b[at..at+dim)}. */
    private static double distance(double[] a, int from, double[] b, int at, int dim) {
        double sum = 0;
        for (int j = 0; j < dim; j++) {
            double d = a[from + j] - b[at + j];
            sum += d * d;
        }
        return sum;
    }
}
