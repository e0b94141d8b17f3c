package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.nn.CodebookMode;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.util.Locale;

/** Parses {@code --mode} (scaled or multi) case-insensitively. */
final class ModeConverter implements ITypeConverter<CodebookMode> {

    /** {@inheritDoc} */
    @Override
    public CodebookMode convert(String value) {
        try {
            return CodebookMode.valueOf(value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException("unknown mode '" + value + "'; choose scaled or multi");
        }
    }
}
