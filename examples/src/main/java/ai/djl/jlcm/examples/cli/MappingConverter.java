package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.learn.MappingUpdate;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.util.Locale;

/** Parses {@code --mapping} (one of {@link #CHOICES}) case-insensitively. */
public final class MappingConverter implements ITypeConverter<MappingUpdate> {

    /** The mapping updates, as options spell them. */
    public static final String CHOICES = "proximal, ste, soft, frozen or neighbours";

    /** {@inheritDoc} */
    @Override
    public MappingUpdate convert(String value) {
        try {
            return MappingUpdate.valueOf(value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException("unknown mapping '" + value + "'; choose " + CHOICES);
        }
    }
}
