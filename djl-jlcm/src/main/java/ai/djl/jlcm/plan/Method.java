package ai.djl.jlcm.plan;

import java.util.Locale;

/** How a layer's weight is compressed. */
public enum Method {
    /** Data-free round-to-nearest: per output channel, uniform levels between its minimum and maximum. */
    RTN,
    /** Data-free k-means codebooks over contiguous neuron groups (one group: one codebook per tensor). */
    KMEANS,
    /** Calibrated JLCM: neurons grouped by distribution, weighted k-means, joint learning. */
    JLCM,
    /** Calibrated GPTQ rounding onto RTN's per-row grid (convolutions on their unfolded inputs). */
    GPTQ,
    /** Calibrated GPTQ rounding onto grouped k-means codebooks, JLCM's storage. */
    GPTQ_CODEBOOK;

    /**
     * Returns whether the method learns from calibration inputs.
     *
     * @return true for JLCM and the GPTQ methods
     */
    public boolean isCalibrated() {
        return this != RTN && this != KMEANS;
    }

    /**
     * Returns the method's name as keys and the CLI write it: {@code rtn}, {@code kmeans}, {@code
     * jlcm}, {@code gptq}, {@code gptq-codebook}.
     *
     * @return the label
     */
    public String label() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /**
     * Returns the method of a label, case-insensitively.
     *
     * @param label a label as {@link #label()} writes it
     * @return the method
     * @throws IllegalArgumentException naming the labels if there is none
     */
    public static Method fromLabel(String label) {
        for (Method m : values()) {
            if (m.label().equalsIgnoreCase(label.trim())) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown method '" + label + "'; choose one of rtn, kmeans, jlcm, gptq, gptq-codebook");
    }
}
