package ai.djl.jlcm.codebook;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.Arrays;
import java.util.Random;

public class VectorKMeansTest {

    /** n vectors, vector i around centre i % (centres.length / dim), Gaussian noise sigma. */
    private static float[] around(float[] centres, int dim, int n, double sigma, Random random) {
        int count = centres.length / dim;
        float[] v = new float[n * dim];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < dim; j++) {
                double noise = sigma * random.nextGaussian();
                v[i * dim + j] = (float) (centres[(i % count) * dim + j] + noise);
            }
        }
        return v;
    }

    private static double squaredDistance(float[] a, int at, float[] b, int bt, int dim) {
        double s = 0;
        for (int j = 0; j < dim; j++) {
            double d = a[at + j] - b[bt + j];
            s += d * d;
        }
        return s;
    }

    /** Mean squared error of the vectors of {@code v} against their nearest codeword. */
    private static double mse(float[] v, float[] codebook, int dim) {
        double sum = 0;
        for (int at = 0; at < v.length; at += dim) {
            int a = VectorKMeans.nearest(v, null, at, codebook, dim);
            sum += squaredDistance(v, at, codebook, a * dim, dim);
        }
        return sum / (v.length / dim);
    }

    @Test
    public void recoversSeparatedClusters() {
        for (int dim : new int[] {1, 2, 4}) {
            int k = dim == 1 ? 4 : 1 << dim;
            // distinct corners of [-5, 5]^dim, shifted a little per cluster
            float[] centres = new float[k * dim];
            for (int c = 0; c < k; c++) {
                for (int j = 0; j < dim; j++) {
                    int bit = dim == 1 ? c : (c >> j) & 1;
                    centres[c * dim + j] = 10f * bit - 5f + 0.3f * c;
                }
            }
            Random random = new Random(dim);
            int n = 100_000; // more vectors than the fit samples
            float[] points = around(centres, dim, n, 0.1, random);
            // junk around the range must be ignored
            float[] values = new float[points.length + 6 * dim];
            Arrays.fill(values, 1000f);
            System.arraycopy(points, 0, values, 3 * dim, points.length);
            for (long seed = 1; seed <= 3; seed++) {
                float[] c = VectorKMeans.fit(values, null, 3 * dim, points.length, dim, k, seed);
                Assert.assertEquals(c.length, k * dim);
                int[] match = new int[k];
                boolean[] used = new boolean[k];
                for (int t = 0; t < k; t++) {
                    match[t] = VectorKMeans.nearest(centres, null, t * dim, c, dim);
                    double error = squaredDistance(centres, t * dim, c, match[t] * dim, dim);
                    Assert.assertTrue(
                            error < 0.05 * 0.05,
                            "dim " + dim + " seed " + seed + ": centre " + t + " not recovered: "
                                    + Arrays.toString(c));
                    Assert.assertFalse(used[match[t]], "two centres share codeword " + match[t]);
                    used[match[t]] = true;
                }
                for (int i = 0; i < n; i++) {
                    int a = VectorKMeans.nearest(points, null, i * dim, c, dim);
                    Assert.assertEquals(a, match[i % k]);
                }
            }
        }
    }

    @Test
    public void zeroImportanceIgnoresCoordinate() {
        // four groups at (+-1, +-10): uniformly, k = 2 splits on the second coordinate
        float[] centres = {-1, -10, 1, -10, -1, 10, 1, 10};
        float[] v = around(centres, 2, 4000, 0.1, new Random(5));
        float[] uniform = sortedRows(VectorKMeans.fit(v, null, 0, v.length, 2, 2, 1), 2, 1);
        Assert.assertEquals(uniform[0], 0f, 0.05f);
        Assert.assertEquals(uniform[1], -10f, 0.05f);
        Assert.assertEquals(uniform[2], 0f, 0.05f);
        Assert.assertEquals(uniform[3], 10f, 0.05f);
        // with no importance on the second coordinate the split is on the first one
        float[] importance = new float[v.length];
        for (int i = 0; i < importance.length; i += 2) {
            importance[i] = 1;
        }
        float[] c = VectorKMeans.fit(v, importance, 0, v.length, 2, 2, 1);
        float[] weighted = sortedRows(c, 2, 0);
        Assert.assertEquals(weighted[0], -1f, 0.05f);
        Assert.assertEquals(weighted[2], 1f, 0.05f);
        // a coordinate without importance takes the plain mean of the members
        Assert.assertEquals(weighted[1], 0f, 0.05f);
        Assert.assertEquals(weighted[3], 0f, 0.05f);
        for (int at = 0; at < v.length; at += 2) {
            int a = VectorKMeans.nearest(v, importance, at, c, 2);
            Assert.assertEquals(c[2 * a] > 0, v[at] > 0);
        }
    }

    @Test
    public void centroidIsImportanceWeightedMean() {
        float[] v = {0, 0, 4, 4};
        float[] importance = {3, 1, 1, 3};
        Assert.assertEquals(VectorKMeans.fit(v, importance, 0, 4, 2, 1, 9), new float[] {1, 3});
        Assert.assertEquals(VectorKMeans.fit(v, null, 0, 4, 2, 1, 9), new float[] {2, 2});
        // nearest weighs the coordinates too: (0, 4) is nearer (3, 4) unweighted, (0, 0) weighted
        float[] q = {0, 4};
        float[] codebook = {0, 0, 3, 4};
        Assert.assertEquals(VectorKMeans.nearest(q, null, 0, codebook, 2), 1);
        Assert.assertEquals(VectorKMeans.nearest(q, new float[] {10, 1}, 0, codebook, 2), 0);
        // ties go to the lowest index
        Assert.assertEquals(VectorKMeans.nearest(q, new float[] {0, 0}, 0, codebook, 2), 0);
        Assert.assertEquals(VectorKMeans.nearest(new float[] {1.5f, 2}, null, 0, codebook, 2), 0);
    }

    @Test
    public void sameSeedSameCodebook() {
        Random random = new Random(11);
        float[] v = new float[4 * 100_000];
        float[] importance = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.nextGaussian();
            importance[i] = random.nextFloat();
        }
        float[] a = VectorKMeans.fit(v, importance, 0, v.length, 4, 32, 7);
        Assert.assertEquals(VectorKMeans.fit(v, importance, 0, v.length, 4, 32, 7), a);
        Assert.assertNotEquals(VectorKMeans.fit(v, importance, 0, v.length, 4, 32, 8), a);
    }

    @Test
    public void fewerDistinctVectorsThanK() {
        float[] distinct = {0.5f, -1.25f, 3f, 7f, -2f, 0.1f};
        float[] v = around(distinct, 2, 300, 0, new Random(1));
        float[] importance = new float[v.length];
        Random random = new Random(2);
        for (int i = 0; i < importance.length; i++) {
            importance[i] = 0.1f + random.nextFloat();
        }
        for (float[] h : new float[][] {null, importance}) {
            float[] c = VectorKMeans.fit(v, h, 0, v.length, 2, 8, 3);
            Assert.assertEquals(c.length, 16);
            for (int a = 0; a < 16; a += 2) { // every codeword is one of the vectors
                int match = VectorKMeans.nearest(c, null, a, distinct, 2);
                Assert.assertEquals(c[a], distinct[2 * match]);
                Assert.assertEquals(c[a + 1], distinct[2 * match + 1]);
            }
            for (int at = 0; at < v.length; at += 2) {
                int a = VectorKMeans.nearest(v, h, at, c, 2);
                Assert.assertEquals(
                        Arrays.copyOfRange(c, 2 * a, 2 * a + 2), Arrays.copyOfRange(v, at, at + 2));
            }
        }
        // all-zero weights, all-zero importance, one vector, scalar values
        float[] zeros = new float[400];
        Assert.assertEquals(VectorKMeans.fit(zeros, null, 0, 400, 4, 256, 1), new float[1024]);
        Assert.assertEquals(VectorKMeans.fit(zeros, zeros, 0, 400, 4, 16, 1), new float[64]);
        float[] c = VectorKMeans.fit(v, new float[v.length], 0, v.length, 2, 4, 1);
        for (float x : c) {
            Assert.assertTrue(Float.isFinite(x));
        }
        Assert.assertEquals(
                VectorKMeans.fit(distinct, null, 2, 2, 2, 3, 1), new float[] {3, 7, 3, 7, 3, 7});
        float[] scalars = {1, 2, 3, 1, 2, 3};
        float[] s = VectorKMeans.fit(scalars, null, 0, 6, 1, 256, 1);
        Arrays.sort(s);
        Assert.assertEquals(s[0], 1f);
        Assert.assertEquals(s[255], 3f);
        Assert.assertTrue(Arrays.binarySearch(s, 2f) >= 0);
    }

    @Test
    public void beatsProductGridOnGaussianData() {
        Random random = new Random(21);
        int n = 100_000;
        float[] v = new float[2 * n];
        float[] xs = new float[n];
        float[] ys = new float[n];
        for (int i = 0; i < n; i++) {
            xs[i] = v[2 * i] = (float) random.nextGaussian();
            ys[i] = v[2 * i + 1] = (float) random.nextGaussian();
        }
        float[] cx = KMeans1d.fit(xs, null, 4);
        float[] cy = KMeans1d.fit(ys, null, 4);
        double grid = (KMeans1d.cost(xs, null, cx) + KMeans1d.cost(ys, null, cy)) / n;
        double vector = mse(v, VectorKMeans.fit(v, null, 0, v.length, 2, 16, 1), 2);
        Assert.assertTrue(vector < grid, "vector k-means " + vector + " >= 4 x 4 grid " + grid);
        Assert.assertTrue(grid > 0.2 && grid < 0.25, "grid " + grid); // 2 x 0.1175 for a Gaussian
    }

    @Test
    public void rejectsBadArguments() {
        float[] v = new float[16];
        Class<IllegalArgumentException> bad = IllegalArgumentException.class;
        Assert.assertThrows(bad, () -> VectorKMeans.fit(v, null, 0, 15, 2, 4, 1));
        Assert.assertThrows(bad, () -> VectorKMeans.fit(v, null, 0, 16, 2, 0, 1));
        Assert.assertThrows(bad, () -> VectorKMeans.fit(v, null, 0, 16, 2, 257, 1));
        Assert.assertThrows(bad, () -> VectorKMeans.fit(v, null, 0, 16, 0, 4, 1));
        Assert.assertThrows(bad, () -> VectorKMeans.fit(v, null, -2, 4, 2, 4, 1));
        Assert.assertThrows(bad, () -> VectorKMeans.fit(v, null, 14, 4, 2, 4, 1));
        Assert.assertThrows(bad, () -> VectorKMeans.fit(v, null, 4, 0, 2, 4, 1));
        int huge = Integer.MAX_VALUE - 1;
        Assert.assertThrows(bad, () -> VectorKMeans.fit(v, null, 8, huge, 2, 4, 1));
        Assert.assertThrows(bad, () -> VectorKMeans.fit(v, new float[8], 0, 8, 2, 4, 1));
        float[] h = new float[16];
        h[3] = -1;
        Assert.assertThrows(bad, () -> VectorKMeans.fit(v, h, 0, 8, 2, 4, 1));
        float[] nan = new float[16];
        nan[5] = Float.NaN;
        Assert.assertThrows(bad, () -> VectorKMeans.fit(nan, null, 0, 8, 2, 4, 1));
        float[] codebook = new float[8];
        Assert.assertThrows(bad, () -> VectorKMeans.nearest(v, null, 0, new float[7], 2));
        Assert.assertThrows(bad, () -> VectorKMeans.nearest(v, null, 0, new float[0], 2));
        Assert.assertThrows(bad, () -> VectorKMeans.nearest(v, null, 15, codebook, 2));
        Assert.assertThrows(bad, () -> VectorKMeans.nearest(v, null, -1, codebook, 2));
        Assert.assertThrows(bad, () -> VectorKMeans.nearest(v, new float[4], 0, codebook, 2));
        // the same calls with valid arguments succeed
        Assert.assertEquals(VectorKMeans.fit(h, null, 0, 8, 2, 4, 1).length, 8);
        Assert.assertEquals(VectorKMeans.nearest(v, null, 14, codebook, 2), 0);
    }

    /** The rows of a codebook sorted by coordinate {@code by}, flattened. */
    private static float[] sortedRows(float[] c, int dim, int by) {
        float[][] rows = new float[c.length / dim][];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = Arrays.copyOfRange(c, i * dim, i * dim + dim);
        }
        Arrays.sort(rows, (a, b) -> Float.compare(a[by], b[by]));
        float[] out = new float[c.length];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, out, i * dim, dim);
        }
        return out;
    }
}
