package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.allocation.Sensitivity;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.util.Locale;

/** Parses {@code --sensitivity}: {@code weight} ({@link Sensitivity#WEIGHT_ERROR}) or {@code fisher}. */
public final class SensitivityConverter implements ITypeConverter<Sensitivity> {

    /** The sensitivities, as options spell them. */
    public static final String CHOICES = "weight or fisher";

    /**
     * Returns a sensitivity as options spell it.
     *
     * @param sensitivity the sensitivity
     * @return {@code weight} or {@code fisher}
     */
    public static String name(Sensitivity sensitivity) {
        return sensitivity == Sensitivity.FISHER ? "fisher" : "weight";
    }

    /** {@inheritDoc} */
    @Override
    public Sensitivity convert(String value) {
        switch (value.toLowerCase(Locale.ROOT)) {
            case "weight":
                return Sensitivity.WEIGHT_ERROR;
            case "fisher":
                return Sensitivity.FISHER;
            default:
                throw new TypeConversionException("unknown sensitivity '" + value + "'; choose " + CHOICES);
        }
    }
}
