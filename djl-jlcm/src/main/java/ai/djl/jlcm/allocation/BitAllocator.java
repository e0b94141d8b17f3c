package ai.djl.jlcm.allocation;

import ai.djl.jlcm.nn.CompressedWeight;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Chooses one index width per layer so that the whole model's stored bits stay within a {@link
 * SizeBudget} and the sum of the layers' predicted losses is smallest.
 *
 * <p>An exact multiple-choice knapsack, solved by dynamic programming over sizes: every layer starts
 * at the smallest width, and the bits above that (the spare budget) are spent in units of
 * {@code 1/}{@value #RESOLUTION} of the spare budget, each layer's extra size rounded up to whole
 * units, so the result never exceeds the budget and leaves at most one unit per layer unspent. A
 * greedy by marginal gain per bit was tried first: on the MNIST CNN, whose one large layer holds 97 %
 * of the weights, it spent the budget on the small layers' cheap steps and then could not afford the
 * large layer's step, ending 0.4 bits/weight below the target. A layer's loss is asked only for the
 * widths whose size fits the budget, and above {@value #EAGER_BITS} bits only where the knapsack
 * would choose them ({@link #EAGER_BITS}), for several layers at once ({@link AllocationLayer#error}
 * must be thread-safe).
 */
public final class BitAllocator {

    /** The spare budget is split into this many units. */
    static final int RESOLUTION = 1 << 15;

    /**
     * Widths up to this are measured for every layer before the knapsack is solved. A wider one (its
     * k-means at 128 or 256 codewords costs about two thirds of all the measurements) is measured only
     * once the knapsack chooses it with its error taken as 0: the solution that chooses no unmeasured
     * width is optimal for the true errors too (they are at least 0), so the widths are those of
     * measuring everything.
     */
    static final int EAGER_BITS = 6;

    private final int minBits;
    private final int maxBits;

    /**
     * Creates an allocator choosing widths in {@code [minBits, maxBits]}.
     *
     * @param minBits the smallest width, at least 1
     * @param maxBits the largest width, at most 8
     * @throws IllegalArgumentException if the range is empty or outside 1 to 8
     */
    public BitAllocator(int minBits, int maxBits) {
        CompressedWeight.checkBits(minBits);
        CompressedWeight.checkBits(maxBits);
        if (minBits > maxBits) {
            throw new IllegalArgumentException("minBits " + minBits + " > maxBits " + maxBits);
        }
        this.minBits = minBits;
        this.maxBits = maxBits;
    }

    /**
     * Chooses the widths.
     *
     * @param layers the layers, in the order the result lists them
     * @param budget the whole-model size target
     * @return the widths, within the budget
     * @throws IllegalArgumentException if even the smallest width of every layer exceeds the budget;
     *     the message names the smallest bits per weight the model can reach
     */
    public Allocation allocate(List<? extends AllocationLayer> layers, SizeBudget budget) {
        int n = layers.size();
        int widths = maxBits - minBits + 1;
        long minimum = budget.fixedBits();
        for (AllocationLayer l : layers) {
            minimum += l.storedBits(minBits);
        }
        long spare = budget.maxStoredBits() - minimum;
        if (spare < 0) {
            throw new IllegalArgumentException(
                    String.format(
                            Locale.ROOT,
                            "target %s bits/weight is below the smallest this model can reach: %.5f bits/weight, every one of"
                                    + " its %d compressed layers at %d bit%s, the parameters that stay float (%.5f bits/weight) included%s",
                            budget.targetBitsPerWeight(),
                            budget.bitsPerWeight(minimum),
                            n,
                            minBits,
                            minBits == 1 ? "" : "s",
                            budget.bitsPerWeight(budget.fixedBits()),
                            minBits == 1 ? "" : "; a smaller minimum width reaches lower"));
        }
        long unit = Math.max(1, (spare + RESOLUTION - 1) / RESOLUTION);
        int capacity = (int) (spare / unit);
        long[][] extra = new long[n][widths];
        double[][] error = new double[n][widths];
        boolean[][] measured = new boolean[n][widths];
        // the layers' losses are independent (a k-means each): computed on all cores
        IntStream.range(0, n).parallel().forEach(i -> {
            AllocationLayer l = layers.get(i);
            long base = l.storedBits(minBits);
            for (int w = 0; w < widths; w++) {
                extra[i][w] = l.storedBits(minBits + w) - base;
                if (extra[i][w] > spare) {
                    error[i][w] = Double.NaN; // never chosen
                    measured[i][w] = true;
                } else if (minBits + w <= EAGER_BITS) {
                    error[i][w] = l.error(minBits + w);
                    measured[i][w] = true;
                } // else 0, a lower bound, until the knapsack chooses it
            }
        });
        int[] chosen;
        while (true) {
            chosen = solve(extra, error, unit, capacity, spare);
            List<int[]> unmeasured = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (!measured[i][chosen[i]]) {
                    unmeasured.add(new int[] {i, chosen[i]});
                }
            }
            if (unmeasured.isEmpty()) {
                break;
            }
            unmeasured.parallelStream().forEach(iw -> {
                error[iw[0]][iw[1]] = layers.get(iw[0]).error(minBits + iw[1]);
                measured[iw[0]][iw[1]] = true;
            });
        }
        long used = minimum;
        double predicted = 0;
        for (int i = 0; i < n; i++) {
            used += extra[i][chosen[i]];
            predicted += error[i][chosen[i]];
        }
        Map<String, Integer> bits = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            bits.put(layers.get(i).path(), minBits + chosen[i]);
        }
        return new Allocation(bits, used, budget.parameterCount(), predicted);
    }

    /**
     * Solves the knapsack on these errors: returns the width index of each layer that minimizes the
     * sum of errors within {@code capacity} units.
     */
    private static int[] solve(long[][] extra, double[][] error, long unit, int capacity, long spare) {
        int n = extra.length;
        double[] best = new double[capacity + 1];
        byte[][] choice = new byte[n][capacity + 1];
        for (int i = 0; i < n; i++) {
            double[] next = new double[capacity + 1];
            Arrays.fill(next, Double.POSITIVE_INFINITY);
            for (int w = 0; w < extra[i].length && extra[i][w] <= spare; w++) {
                int units = (int) ((extra[i][w] + unit - 1) / unit);
                for (int c = units; c <= capacity; c++) {
                    double e = best[c - units] + error[i][w];
                    if (e < next[c]) {
                        next[c] = e;
                        choice[i][c] = (byte) w;
                    }
                }
            }
            best = next;
        }
        int[] chosen = new int[n];
        int c = capacity;
        for (int i = n - 1; i >= 0; i--) {
            chosen[i] = choice[i][c];
            c -= (int) ((extra[i][chosen[i]] + unit - 1) / unit);
        }
        return chosen;
    }
}
