package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.allocation.Sensitivity;
import ai.djl.jlcm.nn.CompressedWeight;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

import java.util.Locale;

/**
 * The options of the commands with {@code --target-bits} that shape the allocation: {@code
 * --sensitivity}, what a layer's width is predicted to cost ({@link Sensitivity}), and {@code
 * --min-bits}, the narrowest width a layer may get.
 */
public final class AllocationOptions {

    @Option(
            names = "--sensitivity",
            converter = Converter.class,
            description = "with --target-bits, what a layer's width is predicted to cost: weight (its relative"
                    + " quantization error, data-free) or fisher (its error weighted by the float model's Fisher"
                    + " information on the calibration data) (default: fisher for the calibrated methods, weight"
                    + " for the others)")
    Sensitivity sensitivity;

    @Option(
            names = "--min-bits",
            paramLabel = "N",
            description = "with --target-bits, the narrowest width a layer may get, 1-8 (default: 2 for bert compress,"
                    + " measured better on BERT-base, where the sensitivities undervalue what 1-bit layers cost; 1 for"
                    + " the others)")
    Integer minBits;

    private final int defaultMinBits;

    /** Creates the options with the library's narrowest width, 1 bit, as the default. */
    public AllocationOptions() {
        this(CompressedWeight.MIN_BITS);
    }

    /**
     * Creates the options with a command's own default for {@code --min-bits}.
     *
     * @param defaultMinBits the narrowest width when {@code --min-bits} is not given
     */
    public AllocationOptions(int defaultMinBits) {
        CompressedWeight.checkBits(defaultMinBits);
        this.defaultMinBits = defaultMinBits;
    }

    /**
     * Returns the sensitivity to allocate widths with: the option's value if given, else {@link
     * Sensitivity#FISHER} for a calibrated method and {@link Sensitivity#WEIGHT_ERROR} for the others.
     *
     * @param calibrated whether the method is calibrated (calibration data is loaded anyway)
     * @return the sensitivity
     */
    public Sensitivity resolve(boolean calibrated) {
        if (sensitivity != null) {
            return sensitivity;
        }
        return calibrated ? Sensitivity.FISHER : Sensitivity.WEIGHT_ERROR;
    }

    /**
     * Returns the narrowest width a layer may get.
     *
     * @return {@code --min-bits}, or the command's default
     */
    public int minBits() {
        return minBits == null ? defaultMinBits : minBits;
    }

    /**
     * Checks the options against the others.
     *
     * @param hasTarget whether {@code --target-bits} is given
     * @throws IllegalArgumentException if an option is given without a size target, or {@code
     *     --min-bits} is outside 1 to 8
     */
    public void check(boolean hasTarget) {
        if (!hasTarget && sensitivity != null) {
            throw new IllegalArgumentException("--sensitivity applies to --target-bits only");
        }
        if (minBits == null) {
            return;
        }
        if (minBits < CompressedWeight.MIN_BITS || minBits > CompressedWeight.MAX_BITS) {
            throw new IllegalArgumentException("--min-bits must be 1 to 8, got " + minBits);
        }
        if (!hasTarget) {
            throw new IllegalArgumentException("--min-bits applies to --target-bits only");
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
