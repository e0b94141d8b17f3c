package ai.djl.jlcm.codebook;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.Arrays;
import java.util.Random;

public class KMeans1dTest {

    /** Optimal cost by trying every partition of the sorted values into k contiguous runs. */
    private static double bruteForce(float[] values, float[] weights, int k) {
        Integer[] order = new Integer[values.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Float.compare(values[a], values[b]));
        double[] x = new double[values.length];
        double[] w = new double[values.length];
        for (int i = 0; i < order.length; i++) {
            x[i] = values[order[i]];
            w[i] = weights == null ? 1 : weights[order[i]];
        }
        return best(x, w, 0, k);
    }

    private static double best(double[] x, double[] w, int from, int k) {
        int n = x.length;
        if (k == 1) {
            return runCost(x, w, from, n);
        }
        double best = runCost(x, w, from, n); // fewer clusters than k is allowed
        for (int end = from + 1; end < n; end++) {
            best = Math.min(best, runCost(x, w, from, end) + best(x, w, end, k - 1));
        }
        return best;
    }

    private static double runCost(double[] x, double[] w, int from, int to) {
        double sw = 0;
        double swx = 0;
        for (int i = from; i < to; i++) {
            sw += w[i];
            swx += w[i] * x[i];
        }
        double mean = swx / sw;
        double c = 0;
        for (int i = from; i < to; i++) {
            c += w[i] * (x[i] - mean) * (x[i] - mean);
        }
        return c;
    }

    @Test
    public void exactOnSmallInputsAgainstBruteForce() {
        Random random = new Random(3);
        for (int trial = 0; trial < 40; trial++) {
            int n = 2 + random.nextInt(9);
            int k = 1 + random.nextInt(4);
            float[] values = new float[n];
            float[] weights = new float[n];
            for (int i = 0; i < n; i++) {
                values[i] = (float) random.nextGaussian();
                weights[i] = 0.1f + random.nextFloat();
            }
            boolean weighted = trial % 2 == 0;
            float[] c = KMeans1d.fit(values, weighted ? weights : null, k);
            double got = KMeans1d.cost(values, weighted ? weights : null, c);
            double expected = bruteForce(values, weighted ? weights : null, k);
            Assert.assertEquals(got, expected, 1e-4 * (1 + expected), "trial " + trial);
        }
    }

    @Test
    public void centroidsAreSortedAndDeterministic() {
        Random random = new Random(5);
        float[] values = new float[20000];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        float[] a = KMeans1d.fit(values, null, 16);
        float[] b = KMeans1d.fit(values, null, 16);
        Assert.assertEquals(a, b);
        for (int i = 1; i < a.length; i++) {
            Assert.assertTrue(a[i] >= a[i - 1]);
        }
        // 16 levels on a unit Gaussian: the optimal (Lloyd-Max) MSE is about 0.0095
        double mse = KMeans1d.cost(values, null, a) / values.length;
        Assert.assertTrue(mse < 0.011, "mse " + mse);
    }

    @Test
    public void fewerDistinctValuesThanCentroids() {
        float[] c = KMeans1d.fit(new float[] {1, 1, 2, 2}, null, 4);
        Assert.assertEquals(c.length, 4);
        Assert.assertEquals(KMeans1d.cost(new float[] {1, 1, 2, 2}, null, c), 0.0, 0.0);
    }

    @Test
    public void nearestPrefersLowerOnTies() {
        float[] c = {0, 1, 2};
        Assert.assertEquals(KMeans1d.nearest(0.5f, c), 0);
        Assert.assertEquals(KMeans1d.nearest(1.6f, c), 2);
        Assert.assertEquals(KMeans1d.nearest(-5f, c), 0);
        Assert.assertEquals(KMeans1d.nearest(9f, c), 2);
    }

    @Test(expectedExceptions = IllegalArgumentException.class)
    public void nonFiniteValuesAreRejected() {
        KMeans1d.fit(new float[] {1, Float.NaN}, null, 2);
    }
}
