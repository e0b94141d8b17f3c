package ai.djl.jlcm.examples.cli;

/**
 * One measured row of an ablation: a variant, measured on its reloaded model directory.
 *
 * @param variant what was compressed how
 * @param bitsPerWeight all stored bits of the compressed layers per weight, of the reloaded model
 *     ({@code NaN} if the row failed)
 * @param accuracy test accuracy of the reloaded model as a fraction ({@code NaN} if the row failed)
 * @param seconds seconds of the compression call alone ({@code NaN} if it did not finish)
 * @param error the failure, {@code null} if the row succeeded
 */
record AblationRow(AblationVariant variant, double bitsPerWeight, double accuracy, double seconds, String error) {

    AblationRow {
        if (variant == null) {
            throw new IllegalArgumentException("variant is required");
        }
    }

    /** A measured row. */
    static AblationRow measured(AblationVariant variant, double bitsPerWeight, double accuracy, double seconds) {
        return new AblationRow(variant, bitsPerWeight, accuracy, seconds, null);
    }

    /** A row that failed; {@code seconds} is the compression time if compression finished, else NaN. */
    static AblationRow failed(AblationVariant variant, double seconds, String error) {
        return new AblationRow(variant, Double.NaN, Double.NaN, seconds, error == null ? "failed" : error);
    }

    /** Whether the row was measured. */
    boolean ok() {
        return error == null;
    }
}
