package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.learn.MappingUpdate;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;

import java.util.Locale;

/**
 * One compression variant of an ablation at one bit width.
 *
 * @param method {@link #RTN}, {@link #KMEANS_1}, {@link #KMEANS_GROUPED} or {@link #JLCM}
 * @param mode {@code scaled} or {@code multi}; {@code null} when it does not apply (RTN)
 * @param groups neuron groups per layer; {@code null} when it does not apply (RTN)
 * @param mapping the JLCM mapping update in lower case; {@code null} for the baselines
 * @param bits the requested bits per weight index, 1 to 8
 */
record AblationVariant(String method, String mode, Integer groups, String mapping, int bits) {

    /** Method label of the RTN baseline (uniform per-channel min-max rounding). */
    static final String RTN = "RTN";

    /** Method label of the one-k-means-codebook-per-tensor baseline. */
    static final String KMEANS_1 = "KMEANS-1";

    /** Method label of the k-means-codebook-per-contiguous-channel-group baseline. */
    static final String KMEANS_GROUPED = "KMEANS-GROUPED";

    /** Method label of JLCM. */
    static final String JLCM = "JLCM";

    AblationVariant {
        if (method == null || method.isEmpty()) {
            throw new IllegalArgumentException("method is required");
        }
        if (bits < 1 || bits > 8) {
            throw new IllegalArgumentException("bits must be between 1 and 8, got " + bits);
        }
        if (groups != null && groups < 1) {
            throw new IllegalArgumentException("groups must be positive, got " + groups);
        }
    }

    /**
     * Returns the variant's settings, the defaults of its compression plan.
     *
     * @param steps JLCM's learning steps per layer
     * @return the settings
     */
    LayerSettings settings(int steps) {
        LayerSettings.Builder s =
                LayerSettings.builder()
                        .optMethod(RTN.equals(method) ? Method.RTN : JLCM.equals(method) ? Method.JLCM : Method.KMEANS)
                        .optBits(bits)
                        .optSteps(steps);
        if (groups != null) {
            s.optGroups(groups);
        }
        if (mode != null) {
            s.optMode(CodebookMode.valueOf(mode.toUpperCase(Locale.ROOT)));
        }
        if (mapping != null) {
            s.optMapping(MappingUpdate.valueOf(mapping.toUpperCase(Locale.ROOT)));
        }
        return s.build();
    }

    /** A short description for logs, for example {@code 2 bits JLCM multi G=4 proximal}. */
    String describe() {
        StringBuilder sb = new StringBuilder().append(bits).append(bits == 1 ? " bit " : " bits ").append(method);
        if (mode != null) {
            sb.append(' ').append(mode);
        }
        if (groups != null) {
            sb.append(" G=").append(groups);
        }
        if (mapping != null) {
            sb.append(' ').append(mapping);
        }
        return sb.toString();
    }

    /** A file-name-safe slug, for example {@code 2bit-jlcm-multi-g4-proximal}. */
    String slug() {
        StringBuilder sb = new StringBuilder().append(bits).append("bit-").append(method.toLowerCase(Locale.ROOT));
        if (mode != null) {
            sb.append('-').append(mode);
        }
        if (groups != null) {
            sb.append("-g").append(groups);
        }
        if (mapping != null) {
            sb.append('-').append(mapping);
        }
        return sb.toString();
    }
}
