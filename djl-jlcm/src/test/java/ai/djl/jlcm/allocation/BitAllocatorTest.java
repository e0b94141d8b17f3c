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
}
