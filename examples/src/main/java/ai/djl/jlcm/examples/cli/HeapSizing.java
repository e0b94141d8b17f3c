package ai.djl.jlcm.examples.cli;

import com.sun.management.HotSpotDiagnosticMXBean;
import com.sun.management.VMOption;

import java.lang.management.ManagementFactory;

/**
 * Keeps the Java heap near what it holds: the CLI's long runs (BERT compression) allocate large
 * short-lived arrays, and with the JVM's defaults (a heap kept up to 70 % free) G1 grows the
 * committed heap to several times its live data, resident memory the process never gives back.
 * Sets the manageable {@code MinHeapFreeRatio}/{@code MaxHeapFreeRatio} to 10/30, so that G1
 * uncommits the excess at each concurrent cycle's remark and each full GC. A value given on the
 * {@code java} command line is kept.
 */
final class HeapSizing {

    static final String MIN_FREE = "MinHeapFreeRatio";
    static final String MAX_FREE = "MaxHeapFreeRatio";

    private HeapSizing() {}

    /** Applies the ratios where the JVM allows it and the user did not choose them. */
    static void apply() {
        HotSpotDiagnosticMXBean bean = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        if (bean == null || !isDefault(bean, MIN_FREE) || !isDefault(bean, MAX_FREE)) {
            return;
        }
        try {
            // the minimum first: the JVM refuses a maximum below the current minimum
            bean.setVMOption(MIN_FREE, "10");
            bean.setVMOption(MAX_FREE, "30");
        } catch (IllegalArgumentException | SecurityException e) {
            // a JVM without these flags, or without the right to set them, keeps its defaults
        }
    }

    private static boolean isDefault(HotSpotDiagnosticMXBean bean, String name) {
        try {
            VMOption option = bean.getVMOption(name);
            return option.isWriteable() && option.getOrigin() == VMOption.Origin.DEFAULT;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
