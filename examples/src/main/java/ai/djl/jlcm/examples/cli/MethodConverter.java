package ai.djl.jlcm.examples.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/** Parses {@code --method} case-insensitively with a one-line error listing the choices. */
final class MethodConverter implements ITypeConverter<Method> {

    /** {@inheritDoc} */
    @Override
    public Method convert(String value) {
        for (Method m : Method.values()) {
            if (m.label().equals(value.toLowerCase(Locale.ROOT))) {
                return m;
            }
        }
        throw new TypeConversionException("unknown method '" + value + "'; choose one of " + new Candidates());
    }

    /** The method names, for help and errors. */
    static final class Candidates implements Iterable<String> {
        /** {@inheritDoc} */
        @Override
        public Iterator<String> iterator() {
            List<String> names = new ArrayList<>();
            for (Method m : Method.values()) {
                names.add(m.label());
            }
            return names.iterator();
        }

        /** {@inheritDoc} */
        @Override
        public String toString() {
            return String.join(", ", this);
        }
    }
}
