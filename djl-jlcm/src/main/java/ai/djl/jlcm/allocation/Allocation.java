package ai.djl.jlcm.allocation;

import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The widths a {@link BitAllocator} chose.
 *
 * @param bits the index width of each layer, by path, in the order the layers were given
 * @param storedBits the whole model's stored bits with these widths, fixed bits included
 * @param parameterCount the parameter count of the dense model
 * @param predictedError the sum of the layers' predicted losses at these widths
 */
public record Allocation(Map<String, Integer> bits, long storedBits, long parameterCount, double predictedError) {

    /**
     * Creates an allocation.
     *
     * @param bits the widths by path
     * @param storedBits the stored bits
     * @param parameterCount the parameter count
     * @param predictedError the predicted loss
     */
    public Allocation {
        bits = Collections.unmodifiableMap(new LinkedHashMap<>(bits));
    }

    /**
     * Returns the whole model's stored bits per weight with these widths.
     *
     * @return bits per weight, at most the target
     */
    public double bitsPerWeight() {
        return (double) storedBits / parameterCount;
    }

    /**
     * Returns a plan that gives each layer its width: {@code plan} with one path rule per layer,
     * anchored to its path, after the plan's own rules (so the width wins).
     *
     * @param plan the plan the widths were allocated for
     * @return the plan with the widths
     */
    public CompressionPlan applyTo(CompressionPlan plan) {
        CompressionPlan.Builder b = plan.toBuilder();
        bits.forEach((path, w) -> b.optForPath("^" + Pattern.quote(path) + "$", LayerSettings.builder().optBits(w).build()));
        return b.build();
    }
}
