package ai.djl.jlcm.grouping;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.Arrays;
import java.util.Random;
import java.util.function.DoubleSupplier;

public class NeuronGroupingTest {

    private static final int SEEDS = 10;

    /** Fills row {@code o} of a matrix with {@code cols} draws of {@code draw}. */
    private static void fill(float[] w, int o, int cols, DoubleSupplier draw) {
        for (int j = 0; j < cols; j++) {
            w[o * cols + j] = (float) draw.getAsDouble();
        }
    }

    /** Rows of random RMS from about 0.1 to 10, half of them heavy-tailed. */
    private static float[] mixed(int rows, int cols, Random random) {
        float[] w = new float[rows * cols];
        for (int o = 0; o < rows; o++) {
            double scale = Math.pow(10, 2 * random.nextDouble() - 1);
            boolean heavy = random.nextBoolean();
            fill(
                    w,
                    o,
                    cols,
                    () -> scale * random.nextGaussian() * (heavy ? random.nextGaussian() : 1));
        }
        return w;
    }

    private static void assertConsistent(NeuronGrouping grouping, int rows) {
        int[] groupOf = grouping.groupOf();
        int[] permutation = grouping.permutation();
        int[] boundaries = grouping.boundaries();
        int groups = grouping.groups();
        Assert.assertEquals(groupOf.length, rows);
        Assert.assertEquals(boundaries.length, groups + 1);
        Assert.assertEquals(boundaries[0], 0);
        Assert.assertEquals(boundaries[groups], rows);
        int[] sorted = permutation.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < rows; i++) {
            Assert.assertEquals(sorted[i], i, "not a permutation of 0..rows-1");
        }
        for (int g = 0; g < groups; g++) {
            Assert.assertTrue(boundaries[g] < boundaries[g + 1], "group " + g + " is empty");
            for (int i = boundaries[g]; i < boundaries[g + 1]; i++) {
                Assert.assertEquals(groupOf[permutation[i]], g);
                if (i > boundaries[g]) {
                    Assert.assertTrue(permutation[i - 1] < permutation[i]);
                }
            }
        }
    }

    @Test
    public void testPermutationConsistent() {
        Random random = new Random(1);
        float[] w = mixed(300, 64, random);
        NeuronGrouping grouping = NeuronGrouping.of(w, 300, 64, 7, 3);
        Assert.assertEquals(grouping.groups(), 7);
        assertConsistent(grouping, 300);
    }

    @Test
    public void testLabelsOrderedByScale() {
        float[] w = mixed(200, 32, new Random(2));
        NeuronGrouping grouping = NeuronGrouping.of(w, 200, 32, 5, 0);
        double[] mean = new double[grouping.groups()];
        int[] groupOf = grouping.groupOf();
        int[] boundaries = grouping.boundaries();
        for (int o = 0; o < groupOf.length; o++) {
            float[] d = NeuronGrouping.descriptor(w, o, 32);
            mean[groupOf[o]] += d[NeuronGrouping.QUANTILES];
        }
        for (int g = 1; g < mean.length; g++) {
            Assert.assertTrue(
                    mean[g - 1] / (boundaries[g] - boundaries[g - 1])
                            <= mean[g] / (boundaries[g + 1] - boundaries[g]));
        }
    }

    @Test
    public void testDeterministic() {
        float[] w = mixed(500, 48, new Random(4));
        NeuronGrouping a = NeuronGrouping.of(w, 500, 48, 16, 42);
        NeuronGrouping b = NeuronGrouping.of(w, 500, 48, 16, 42);
        Assert.assertEquals(a.groups(), b.groups());
        Assert.assertEquals(a.groupOf(), b.groupOf());
        Assert.assertEquals(a.permutation(), b.permutation());
        Assert.assertEquals(a.boundaries(), b.boundaries());
    }

    @Test
    public void testSeparatesTwoPopulations() {
        int rows = 40;
        int cols = 256;
        Random random = new Random(5);
        float[] w = new float[rows * cols];
        for (int o = 0; o < rows; o++) {
            double sigma = o % 2 == 0 ? 0.01 : 1;
            fill(w, o, cols, () -> sigma * random.nextGaussian());
        }
        int[] expected = new int[rows];
        int[] permutation = new int[rows];
        for (int o = 0; o < rows; o++) {
            expected[o] = o % 2;
            permutation[o] = o < rows / 2 ? 2 * o : 2 * (o - rows / 2) + 1;
        }
        for (long seed = 0; seed < SEEDS; seed++) {
            NeuronGrouping grouping = NeuronGrouping.of(w, rows, cols, 2, seed);
            Assert.assertEquals(grouping.groupOf(), expected, "seed " + seed);
            Assert.assertEquals(grouping.permutation(), permutation);
            Assert.assertEquals(grouping.boundaries(), new int[] {0, rows / 2, rows});
        }
    }

    @Test
    public void testSeparatesByScale() {
        int rows = 60;
        int cols = 512;
        double[] scales = {2, 0.5, 1};
        Random random = new Random(6);
        float[] w = new float[rows * cols];
        int[] expected = new int[rows];
        for (int o = 0; o < rows; o++) {
            double scale = scales[o % 3];
            fill(w, o, cols, () -> scale * random.nextGaussian());
            expected[o] = new int[] {2, 0, 1}[o % 3];
        }
        for (long seed = 0; seed < SEEDS; seed++) {
            NeuronGrouping grouping = NeuronGrouping.of(w, rows, cols, 3, seed);
            Assert.assertEquals(grouping.groupOf(), expected, "seed " + seed);
        }
    }

    @Test
    public void testSeparatesByShape() {
        int rows = 60;
        int cols = 1024;
        double root3 = Math.sqrt(3);
        Random random = new Random(7);
        DoubleSupplier[] shapes = {
            random::nextGaussian,
            () -> root3 * (2 * random.nextDouble() - 1),
            () -> random.nextBoolean() ? 1 : -1
        };
        float[] w = new float[rows * cols];
        for (int o = 0; o < rows; o++) {
            fill(w, o, cols, shapes[o % 3]);
        }
        for (long seed = 0; seed < SEEDS; seed++) {
            int[] groupOf = NeuronGrouping.of(w, rows, cols, 3, seed).groupOf();
            Assert.assertNotEquals(groupOf[0], groupOf[1]);
            Assert.assertNotEquals(groupOf[1], groupOf[2]);
            Assert.assertNotEquals(groupOf[0], groupOf[2]);
            for (int o = 3; o < rows; o++) {
                Assert.assertEquals(groupOf[o], groupOf[o % 3], "seed " + seed + ", row " + o);
            }
        }
    }

    @Test
    public void testOneGroup() {
        float[] w = mixed(10, 8, new Random(8));
        NeuronGrouping grouping = NeuronGrouping.of(w, 10, 8, 1, 0);
        Assert.assertEquals(grouping.groups(), 1);
        Assert.assertEquals(grouping.groupOf(), new int[10]);
        Assert.assertEquals(grouping.permutation(), new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
        Assert.assertEquals(grouping.boundaries(), new int[] {0, 10});
    }

    @Test
    public void testGroupPerNeuron() {
        double[] scales = {3, 0.1, 7, 1, 0.5};
        int cols = 16;
        Random random = new Random(9);
        float[] w = new float[scales.length * cols];
        for (int o = 0; o < scales.length; o++) {
            double scale = scales[o];
            fill(w, o, cols, () -> scale * random.nextGaussian());
        }
        for (int groups : new int[] {5, 9}) {
            NeuronGrouping grouping = NeuronGrouping.of(w, scales.length, cols, groups, 0);
            Assert.assertEquals(grouping.groups(), 5);
            Assert.assertEquals(grouping.groupOf(), new int[] {3, 0, 4, 2, 1});
            Assert.assertEquals(grouping.permutation(), new int[] {1, 4, 3, 0, 2});
            Assert.assertEquals(grouping.boundaries(), new int[] {0, 1, 2, 3, 4, 5});
        }
    }

    @Test
    public void testIdenticalRowsShareGroup() {
        float[] row1 = {1, -2, 3, -4};
        float[] row2 = {0.5f, 0.5f, -0.5f, 0};
        float[] w = new float[5 * 4];
        int[] rowOf = {0, 1, 0, 1, 0};
        for (int o = 0; o < rowOf.length; o++) {
            System.arraycopy(rowOf[o] == 0 ? row1 : row2, 0, w, o * 4, 4);
        }
        NeuronGrouping grouping = NeuronGrouping.of(w, 5, 4, 5, 0);
        Assert.assertEquals(grouping.groups(), 2);
        Assert.assertEquals(grouping.groupOf(), new int[] {1, 0, 1, 0, 1});
        Assert.assertEquals(grouping.permutation(), new int[] {1, 3, 0, 2, 4});
        Assert.assertEquals(grouping.boundaries(), new int[] {0, 2, 5});
    }

    @Test
    public void testDescriptor() {
        // row 1 is {4, 1, 3, 2}: RMS sqrt(7.5); sorted {1, 2, 3, 4}, quantile i at 1 + 3 (i + 0.5)
        // / 8
        float[] w = {9, 9, 9, 9, 4, 1, 3, 2};
        float[] d = NeuronGrouping.descriptor(w, 1, 4);
        Assert.assertEquals(d.length, NeuronGrouping.DESCRIPTOR_LENGTH);
        double sigma = Math.sqrt(7.5);
        for (int i = 0; i < NeuronGrouping.QUANTILES; i++) {
            Assert.assertEquals(d[i], (1 + 3 * (i + 0.5) / 8) / sigma, 1e-6);
        }
        Assert.assertEquals(d[8], Math.sqrt(8) * Math.log(sigma), 1e-6);

        float[] scaled = new float[4];
        for (int j = 0; j < 4; j++) {
            scaled[j] = 8 * w[4 + j];
        }
        float[] e = NeuronGrouping.descriptor(scaled, 0, 4);
        for (int i = 0; i < NeuronGrouping.QUANTILES; i++) {
            Assert.assertEquals(e[i], d[i], 1e-6);
        }
        Assert.assertEquals(e[8] - d[8], Math.sqrt(8) * Math.log(8), 1e-5);

        float[] zero = NeuronGrouping.descriptor(new float[3], 0, 3);
        Assert.assertEquals(
                zero,
                new float[] {0, 0, 0, 0, 0, 0, 0, 0, (float) (Math.sqrt(8) * Math.log(1e-12))});
    }

    @Test
    public void testBadArguments() {
        float[] w = new float[12];
        assertIllegal(() -> NeuronGrouping.of(w, 3, 5, 2, 0));
        assertIllegal(() -> NeuronGrouping.of(w, 0, 12, 2, 0));
        assertIllegal(() -> NeuronGrouping.of(new float[0], 1, 0, 2, 0));
        assertIllegal(() -> NeuronGrouping.of(w, 3, 4, 0, 0));
        for (float bad :
                new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            float[] v = new float[12];
            v[7] = bad;
            assertIllegal(() -> NeuronGrouping.of(v, 3, 4, 1, 0));
            assertIllegal(() -> NeuronGrouping.descriptor(v, 1, 4));
        }
        assertIllegal(() -> NeuronGrouping.descriptor(w, 3, 4));
        assertIllegal(() -> NeuronGrouping.descriptor(w, -1, 4));
        assertIllegal(() -> NeuronGrouping.descriptor(w, 0, 0));
    }

    private static void assertIllegal(Runnable call) {
        Assert.assertThrows(IllegalArgumentException.class, call::run);
    }
}
