package ai.djl.jlcm.allocation;

import ai.djl.jlcm.nn.CompressedWeight;

import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Chooses one index width per layer so that the whole model's stored bits stay within a {@link
 * SizeBudget} and the sum of the layers' predicted losses is small.
 *
 * <p>Greedy by marginal gain per bit: every layer starts at the smallest width; then, while the
 * budget allows, the one-bit step of the layer with the largest loss decrease per stored bit is
 * taken. A step that does not fit is dropped (the budget left only shrinks), and a layer whose next
 * width gains nothing stops. Each layer's loss is asked for lazily, at its current width and the
 * next, so a layer's sensitivity is measured only up to one bit above the width it gets. For losses
 * that fall convexly with the width (quantization error roughly quarters per bit) this is the
 * classic greedy of the multiple-choice knapsack, optimal up to the last step that does not fit.
 */
public final class BitAllocator {

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
        long limit = budget.maxStoredBits();
        int[] width = new int[layers.size()];
        long used = budget.fixedBits();
        for (int i = 0; i < width.length; i++) {
            width[i] = minBits;
            used += layers.get(i).storedBits(minBits);
        }
        if (used > limit) {
            throw new IllegalArgumentException(
                    String.format(
                            Locale.ROOT,
                            "target %.4f bits/weight is below the smallest this model can reach: %.4f bits/weight, every one of"
                                    + " its %d compressed layers at %d bit%s, the parameters that stay float (%.4f bits/weight) included",
                            budget.targetBitsPerWeight(),
                            budget.bitsPerWeight(used),
                            width.length,
                            minBits,
                            minBits == 1 ? "" : "s",
                            budget.bitsPerWeight(budget.fixedBits())));
        }
        PriorityQueue<Step> steps =
                new PriorityQueue<>(Comparator.comparingDouble(Step::gainPerBit).reversed().thenComparingInt(Step::layer));
        double[] error = new double[width.length];
        for (int i = 0; i < width.length; i++) {
            error[i] = layers.get(i).error(minBits);
            offer(steps, layers.get(i), i, minBits, error[i]);
        }
        while (!steps.isEmpty()) {
            Step s = steps.poll();
            if (used + s.extraBits > limit) {
                continue;
            }
            used += s.extraBits;
            width[s.layer]++;
            error[s.layer] = s.nextError;
            offer(steps, layers.get(s.layer), s.layer, width[s.layer], s.nextError);
        }
        Map<String, Integer> bits = new LinkedHashMap<>();
        double total = 0;
        for (int i = 0; i < width.length; i++) {
            bits.put(layers.get(i).path(), width[i]);
            total += error[i];
        }
        return new Allocation(bits, used, budget.parameterCount(), total);
    }

    private void offer(PriorityQueue<Step> steps, AllocationLayer layer, int index, int bits, double error) {
        if (bits >= maxBits) {
            return;
        }
        double next = layer.error(bits + 1);
        long extra = layer.storedBits(bits + 1) - layer.storedBits(bits);
        if (next < error) {
            steps.add(new Step(index, (error - next) / extra, extra, next));
        }
    }

    private record Step(int layer, double gainPerBit, long extraBits, double nextError) {}
}
