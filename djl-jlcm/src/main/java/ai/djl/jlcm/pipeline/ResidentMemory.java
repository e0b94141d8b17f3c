package ai.djl.jlcm.pipeline;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process's resident memory as the OS counts it (engine tensors included, which heap figures
 * miss), from {@code /proc/self/status}; -1 where that file does not exist.
 */
public final class ResidentMemory {

    private ResidentMemory() {}

    /**
     * Returns the resident set size now ({@code VmRSS}).
     *
     * @return bytes, or -1 if unknown
     */
    public static long currentBytes() {
        return field("VmRSS:");
    }

    /**
     * Returns the peak resident set size of the process so far ({@code VmHWM}).
     *
     * @return bytes, or -1 if unknown
     */
    public static long peakBytes() {
        return field("VmHWM:");
    }

    private static long field(String name) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(name)) {
                    String[] parts = line.substring(name.length()).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | NumberFormatException | SecurityException e) {
            return -1;
        }
        return -1;
    }
}
