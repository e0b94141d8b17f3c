package ai.djl.jlcm;

import java.nio.ByteBuffer;

/**
 * A daemon thread that runs the garbage collector and refills new direct buffers with NaN bytes,
 * for as long as it is open. Engine memory that only a released Java buffer backs (see {@link
 * ai.djl.jlcm.nn.Scalars}) is then freed and overwritten within milliseconds, so a computation that
 * reads it gives a different result than one run without the pressure.
 */
public final class GcPressure implements AutoCloseable {

    private static final int[] SIZES = {4, 256, 4096, 65536};

    private final Thread thread;
    private volatile boolean running = true;

    private GcPressure() {
        thread = new Thread(this::run, "gc-pressure");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Starts the pressure.
     *
     * @return the pressure, to close when the computation is done
     */
    public static GcPressure start() {
        return new GcPressure();
    }

    private void run() {
        while (running) {
            System.gc();
            for (int size : SIZES) {
                ByteBuffer b = ByteBuffer.allocateDirect(size);
                for (int i = 0; i < size; i++) {
                    b.put(i, (byte) 0xff);
                }
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Stops the pressure and waits for its thread to end. */
    @Override
    public void close() {
        running = false;
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
