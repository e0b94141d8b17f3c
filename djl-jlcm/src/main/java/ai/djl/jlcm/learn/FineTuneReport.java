package ai.djl.jlcm.learn;

/**
 * What end-to-end fine-tuning did.
 *
 * @param steps the optimizer steps taken (a step whose gradient is not finite is skipped and not counted)
 * @param codebookValues the codebook and scale values learned
 * @param floatValues the uncompressed float values learned (0 if only codebooks were)
 * @param lossBefore the loss over all calibration batches before fine-tuning
 * @param lossAfter the loss over all calibration batches of the model returned: {@code lossBefore}
 *     if the fine-tuned values were reverted
 * @param reverted whether the fine-tuned values ended with a higher (or not finite) calibration loss
 *     than the start, so the start was put back
 * @param seconds the time, both loss evaluations included
 */
public record FineTuneReport(
        int steps, long codebookValues, long floatValues, double lossBefore, double lossAfter, boolean reverted, double seconds) {}
