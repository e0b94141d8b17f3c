package ai.djl.jlcm.allocation;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public class BitAllocatorTest {

    /** A layer of {@code weights} weights and no overhead whose error falls by {@code 4×} per bit. */
    private static final class Layer implements AllocationLayer {
        final String path;
        final long weights;
        final double scale;
        final List<Integer> asked = new ArrayList<>();

        Layer(String path, long weights, double scale) {
            this.path = path;
            this.weights = weights;
            this.scale = scale;
        }

        @Override
        public String path() {
            return path;
        }

        @Override
        public long storedBits(int bits) {
            return weights * bits;
        }

        @Override
        public double error(int bits) {
            asked.add(bits);
            return scale * Math.pow(4, -bits);
        }
    }

    @Test
    public void moreSensitiveLayersGetMoreBits() {
        Layer sensitive = new Layer("sensitive", 1000, 100);
        Layer robust = new Layer("robust", 1000, 1);
        Allocation a = new BitAllocator(1, 8).allocate(List.of(sensitive, robust), new SizeBudget(2000, 0, 3));
        Map<String, Integer> bits = a.bits();
        Assert.assertTrue(bits.get("sensitive") > bits.get("robust"), bits.toString());
        Assert.assertEquals(bits.get("sensitive") + bits.get("robust"), 6);
        Assert.assertEquals(a.storedBits(), 6000);
        Assert.assertEquals(a.bitsPerWeight(), 3.0);
        // ln(100)/ln(4) = 3.3 bits more for the layer 100 times as sensitive, within the 6 bits
        Assert.assertEquals((int) bits.get("sensitive"), 5);
        Assert.assertEquals(a.predictedError(), 100 * Math.pow(4, -5) + Math.pow(4, -1), 1e-12);
    }

    @Test
    public void affordsTheLargeLayerWhereAGreedyBySmallStepsWouldNot() {
        // greedy by gain per bit takes the small layer to 5 bits first, then the large step no longer fits
        Layer large = new Layer("large", 1000, 1);
        Layer small = new Layer("small", 10, 1);
        Allocation a = new BitAllocator(1, 8).allocate(List.of(large, small), new SizeBudget(1010, 0, 2));
        Assert.assertEquals(a.bits(), Map.of("large", 2, "small", 2));
        Assert.assertEquals(a.storedBits(), 2020);
    }

    @Test
    public void staysWithinTheBudgetWithFixedBits() {
        List<Layer> layers = List.of(new Layer("a", 300, 1), new Layer("b", 700, 2), new Layer("c", 50, 30));
        long params = 1050 + 40;
        long fixed = 40 * 32;
        for (double target : new double[] {2.2, 2.3, 3.7, 5.01}) {
            Allocation a = new BitAllocator(1, 8).allocate(layers, new SizeBudget(params, fixed, target));
            long stored = fixed;
            for (Layer l : layers) {
                stored += l.storedBits(a.bits().get(l.path));
            }
            Assert.assertEquals(a.storedBits(), stored);
            Assert.assertTrue(a.bitsPerWeight() <= target, a + " for " + target);
            // the gap is below one step of layer a, the cheapest after c: 300 bits
            Assert.assertTrue(a.bitsPerWeight() > target - 300.0 / params, a + " for " + target);
        }
    }

    @Test
    public void asksErrorsOnlyForWidthsThatFit() {
        Layer a = new Layer("a", 100, 1);
        Layer b = new Layer("b", 100, 1);
        Allocation allocation = new BitAllocator(1, 8).allocate(List.of(a, b), new SizeBudget(200, 0, 2));
        Assert.assertEquals(allocation.bits(), Map.of("a", 2, "b", 2));
        Assert.assertEquals(a.asked.stream().mapToInt(Integer::intValue).max().getAsInt(), 3);
    }

    @Test
    public void stopsAtTheLargestWidth() {
        Allocation a = new BitAllocator(1, 4).allocate(List.of(new Layer("a", 10, 1)), new SizeBudget(10, 0, 7));
        Assert.assertEquals((int) a.bits().get("a"), 4);
    }

    @Test
    public void refusesATargetBelowTheSmallestWidthNamingTheMinimum() {
        List<Layer> layers = List.of(new Layer("a", 900, 1));
        IllegalArgumentException e =
                Assert.expectThrows(
                        IllegalArgumentException.class,
                        () -> new BitAllocator(1, 8).allocate(layers, new SizeBudget(1000, 100 * 32, 1.5)));
        Assert.assertTrue(e.getMessage().contains("target 1.5 bits/weight is below the smallest this model can reach: 4.10000 bits/weight"), e.getMessage());
        Assert.assertTrue(e.getMessage().contains("1 bit"), e.getMessage());
        Assert.expectThrows(IllegalArgumentException.class, () -> new SizeBudget(10, 0, 0));
        Assert.expectThrows(IllegalArgumentException.class, () -> new SizeBudget(10, 0, Double.NaN));
        Assert.expectThrows(IllegalArgumentException.class, () -> new BitAllocator(3, 2));
    }

    @Test
    public void maxStoredBitsNeverExceedsTheTargetInFloatingPoint() {
        for (long params : new long[] {7, 1000, 110_104_890L, 207_178L}) {
            for (double target : new double[] {0.1, 1.5, 2.3, 3.2, 7.9}) {
                SizeBudget b = new SizeBudget(params, 0, target);
                long max = b.maxStoredBits();
                Assert.assertTrue(b.bitsPerWeight(max) <= target);
                Assert.assertTrue(b.bitsPerWeight(max + 1) > target);
            }
        }
    }

    /** A layer with any error at each width, 1 to 8 (not necessarily falling). */
    private static final class TableLayer implements AllocationLayer {
        final String path;
        final long weights;
        final double[] errors;
        final List<Integer> asked = new ArrayList<>();

        TableLayer(String path, long weights, double[] errors) {
            this.path = path;
            this.weights = weights;
            this.errors = errors;
        }

        @Override
        public String path() {
            return path;
        }

        @Override
        public long storedBits(int bits) {
            return weights * bits + 2 * (1L << bits); // and 2 bits per codeword
        }

        @Override
        public synchronized double error(int bits) {
            asked.add(bits);
            return errors[bits - 1];
        }
    }

    /**
     * Widths above {@link BitAllocator#EAGER_BITS} are measured only where the knapsack would take
     * them, yet the widths are the optimum over every combination: checked against enumerating all
     * 8^3 of them, for random errors (falling or not) and targets from 1.5 to 9.5 bits/weight.
     */
    @Test
    public void theWidthsAreTheOptimumOfEveryCombination() {
        java.util.Random random = new java.util.Random(5);
        int wide = 0;
        for (int trial = 0; trial < 200; trial++) {
            List<TableLayer> layers = new ArrayList<>();
            long params = 0;
            for (int l = 0; l < 3; l++) {
                double[] errors = new double[8];
                double e = 1 + 100 * random.nextDouble();
                for (int b = 0; b < 8; b++) {
                    errors[b] = e;
                    e *= random.nextDouble() < 0.1 ? 1.2 : 0.05 + 0.5 * random.nextDouble();
                }
                long weights = 200 + random.nextInt(1000);
                layers.add(new TableLayer("l" + l, weights, errors));
                params += weights;
            }
            SizeBudget budget = new SizeBudget(params, 0, 1.5 + 8 * random.nextDouble());
            Allocation a;
            try {
                a = new BitAllocator(1, 8).allocate(layers, budget);
            } catch (IllegalArgumentException e) {
                continue; // below what the codebooks at 1 bit allow
            }
            double best = Double.POSITIVE_INFINITY;
            for (int c = 0; c < 512; c++) {
                int[] w = {1 + c % 8, 1 + (c / 8) % 8, 1 + c / 64};
                long stored = 0;
                double error = 0;
                for (int l = 0; l < 3; l++) {
                    stored += layers.get(l).storedBits(w[l]);
                    error += layers.get(l).errors[w[l] - 1];
                }
                if (stored <= budget.maxStoredBits()) {
                    best = Math.min(best, error);
                }
            }
            Assert.assertEquals(a.predictedError(), best, 1e-9 * best, "trial " + trial);
            double sum = 0;
            for (TableLayer l : layers) {
                int bits = a.bits().get(l.path);
                sum += l.errors[bits - 1];
                wide = Math.max(wide, bits);
            }
            Assert.assertEquals(sum, a.predictedError(), 1e-12 * sum);
            Assert.assertTrue(a.storedBits() <= budget.maxStoredBits());
        }
        Assert.assertEquals(wide, 8, "some trial reached the unmeasured widths");
    }

    /** At a budget near 2 bits no layer is asked for its error at 7 or 8 bits. */
    @Test
    public void lowBudgetsNeverMeasureTheWidestWidths() {
        List<Layer> layers = List.of(new Layer("a", 1000, 1), new Layer("b", 1000, 5), new Layer("c", 1000, 30));
        Allocation a = new BitAllocator(1, 8).allocate(layers, new SizeBudget(3000, 0, 2.3));
        Assert.assertEquals(a.bits(), Map.of("a", 1, "b", 2, "c", 3));
        for (Layer l : layers) {
            Assert.assertTrue(l.asked.stream().allMatch(b -> b <= BitAllocator.EAGER_BITS), l.path + " " + l.asked);
        }
    }
}
