package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.plan.Method;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/** Parses {@code --method} (rtn, kmeans or jlcm) case-insensitively with a one-line error listing the choices. */
final class MethodConverter implements ITypeConverter<Method> {

    /** The methods the MNIST commands offer. */
    static final List<Method> METHODS = List.of(Method.RTN, Method.KMEANS, Method.JLCM);

    /** {@inheritDoc} */
    @Override
    public Method convert(String value) {
        for (Method m : METHODS) {
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
            for (Method m : METHODS) {
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
