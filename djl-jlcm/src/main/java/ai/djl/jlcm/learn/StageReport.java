package ai.djl.jlcm.learn;

/**
 * Where one stage's compression time went.
 *
 * @param name the stage's name
 * @param layers the layers compressed in it
 * @param recordSeconds recording the layers' inputs (calibration passes through the stage and after)
 * @param learnSeconds initializing and learning the layers (the rest of the stage's layer work)
 * @param propagateSeconds advancing both activation streams through the stage
 * @param peakResidentBytes the process's peak resident memory at the stage's end ({@link
 *     ai.djl.jlcm.pipeline.ResidentMemory#peakBytes()}; -1 if unknown)
 */
public record StageReport(
        String name, int layers, double recordSeconds, double learnSeconds, double propagateSeconds, long peakResidentBytes) {}
