package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.learn.MappingUpdate;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.util.Locale;

/** Parses {@code --mapping} (proximal, ste, soft, frozen) case-insensitively. */
final class MappingConverter implements ITypeConverter<MappingUpdate> {

    /** {@inheritDoc} */
    @Override
    public MappingUpdate convert(String value) {
        try {
            return MappingUpdate.valueOf(value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(
                    "unknown mapping '" + value + "'; choose proximal, ste, soft or frozen");
        }
    }
}
