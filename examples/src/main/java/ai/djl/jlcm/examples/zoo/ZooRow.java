package ai.djl.jlcm.examples.zoo;

/**
 * One measured row of the {@code zoo} command.
 *
 * @param model the architecture label
 * @param method RTN, KMEANS-1, KMEANS-GROUPED or JLCM
 * @param bits the requested bits per index (0 for a row with a size target)
 * @param targetBits the whole-model bits per parameter the layer widths were allocated to, or null
 * @param bitsPerWeight stored bits per weight of the reloaded model (NaN if failed)
 * @param accuracy test accuracy of the reloaded model, a fraction (NaN if failed)
 * @param floatAccuracy test accuracy of the float model, a fraction
 * @param seconds compression wall time, without loading, export and evaluation (NaN if failed)
 * @param error the failure, null if measured
 */
public record ZooRow(
        String model, String method, int bits, Double targetBits, double bitsPerWeight, double accuracy, double floatAccuracy, double seconds,
        String error) {

    /**
     * Whether the row was measured.
     *
     * @return true if measured
     */
    public boolean ok() {
        return error == null;
    }

    /**
     * The bits column: the bits per index, or {@code <=T} for a size target.
     *
     * @return the label
     */
    public String bitsLabel() {
        return targetBits == null ? String.valueOf(bits) : "<=" + targetBits;
    }
}
