package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.allocation.Sensitivity;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

import java.util.Locale;

/**
 * The {@code --sensitivity} option of the commands with {@code --target-bits}: what a layer's width
 * is predicted to cost ({@link Sensitivity}).
 */
public final class SensitivityOption {

    @Option(
            names = "--sensitivity",
            converter = Converter.class,
            description = "with --target-bits, what a layer's width is predicted to cost: weight (its relative"
                    + " quantization error, data-free) or fisher (its error weighted by the float model's Fisher"
                    + " information on the calibration data) (default: fisher for the calibrated methods, weight"
                    + " for the others)")
    Sensitivity sensitivity;

    /**
     * Returns the sensitivity to allocate widths with.
     *
     * @param calibrated whether the method is calibrated (calibration data is loaded anyway)
     * @return the option's value, or by default {@link Sensitivity#FISHER} for a calibrated method
     */
    public Sensitivity resolve(boolean calibrated) {
        return orDefault(sensitivity, calibrated);
    }

    /**
     * Returns the option's value, if given; by default {@link Sensitivity#FISHER} for a calibrated
     * method and {@link Sensitivity#WEIGHT_ERROR} for the others.
     *
     * @param given the value given, or null
     * @param calibrated whether the method is calibrated
     * @return the sensitivity
     */
    public static Sensitivity orDefault(Sensitivity given, boolean calibrated) {
        if (given != null) {
            return given;
        }
        return calibrated ? Sensitivity.FISHER : Sensitivity.WEIGHT_ERROR;
    }

    /**
     * Returns the value given, or null for the default.
     *
     * @return the value
     */
    public Sensitivity given() {
        return sensitivity;
    }

    /**
     * Checks the option against the others.
     *
     * @param hasTarget whether {@code --target-bits} is given
     * @throws IllegalArgumentException if the option is given without a size target
     */
    public void check(boolean hasTarget) {
        if (!hasTarget && sensitivity != null) {
            throw new IllegalArgumentException("--sensitivity applies to --target-bits only");
        }
    }

    /**
     * Returns a sensitivity as the option spells it.
     *
     * @param sensitivity the sensitivity
     * @return {@code weight} or {@code fisher}
     */
    public static String name(Sensitivity sensitivity) {
        return sensitivity == Sensitivity.FISHER ? "fisher" : "weight";
    }

    /** Parses {@code weight} or {@code fisher}, case-insensitively. */
    public static final class Converter implements ITypeConverter<Sensitivity> {

        /** {@inheritDoc} */
        @Override
        public Sensitivity convert(String value) {
            switch (value.toLowerCase(Locale.ROOT)) {
                case "weight":
                    return Sensitivity.WEIGHT_ERROR;
                case "fisher":
                    return Sensitivity.FISHER;
                default:
                    throw new TypeConversionException("unknown sensitivity '" + value + "'; choose weight or fisher");
            }
        }
    }
}
