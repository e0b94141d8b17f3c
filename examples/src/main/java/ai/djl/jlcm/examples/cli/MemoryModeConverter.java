package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.nn.MemoryMode;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Parses a memory mode: packed, byte, fp16 or fp32. */
final class MemoryModeConverter implements ITypeConverter<MemoryMode> {

    /** {@inheritDoc} */
    @Override
    public MemoryMode convert(String value) {
        try {
            return MemoryMode.fromKey(value);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }
}
