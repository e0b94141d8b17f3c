package ai.djl.jlcm;

import ai.djl.engine.Engine;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/**
 * Limits the engine's intra-op parallelism to one thread while held, for bit-identical results:
 * multi-threaded reductions add in an order that depends on the thread split. The setting is
 * process-wide, so other work in the process runs single-threaded meanwhile; the previous thread
 * count is restored when the last holder closes. Only the PyTorch engine is supported (through its
 * {@code JniUtils}, found at run time, so the library does not depend on the engine at compile time).
 */
final class SingleThreadedEngine implements AutoCloseable {

    private static int holders;
    private static int previous;
    private static Method setter;

    private SingleThreadedEngine() {}

    /**
     * Limits the engine to one intra-op thread until the returned hold is closed.
     *
     * @param engine the engine the work runs on
     * @return the hold
     * @throws UnsupportedOperationException if the engine is not PyTorch
     */
    static synchronized SingleThreadedEngine hold(Engine engine) {
        if (holders == 0) {
            if (!"PyTorch".equals(engine.getEngineName())) {
                throw new UnsupportedOperationException(
                        "Deterministic compression needs the PyTorch engine, this model runs on " + engine.getEngineName());
            }
            try {
                Class<?> jni = Class.forName("ai.djl.pytorch.jni.JniUtils", true, engine.getClass().getClassLoader());
                setter = jni.getMethod("setNumThreads", int.class);
                previous = (Integer) jni.getMethod("getNumThreads").invoke(null);
                setter.invoke(null, 1);
            } catch (ReflectiveOperationException e) {
                throw new UnsupportedOperationException("Cannot set the PyTorch engine's thread count: " + e, e);
            }
        }
        holders++;
        return new SingleThreadedEngine();
    }

    @Override
    public void close() {
        synchronized (SingleThreadedEngine.class) {
            if (--holders == 0) {
                try {
                    setter.invoke(null, previous);
                } catch (IllegalAccessException | InvocationTargetException e) {
                    throw new IllegalStateException("Cannot restore the PyTorch engine's thread count: " + e, e);
                }
            }
        }
    }
}
