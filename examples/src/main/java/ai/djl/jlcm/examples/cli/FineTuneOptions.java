package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.learn.FineTuneReport;
import ai.djl.jlcm.learn.FineTuning;

import com.google.gson.JsonObject;

import picocli.CommandLine.Option;

import java.util.Locale;

/** The end-to-end fine-tuning options of the compress commands ({@link FineTuning}). */
public final class FineTuneOptions {

    @Option(
            names = "--fine-tune-steps",
            paramLabel = "N",
            description = "after the layer-wise pass, fine-tune every codebook and scale (and the float parameters"
                    + " left uncompressed: norms, biases, position tables) end to end for N steps, one calibration"
                    + " batch a step, to the float model's outputs (KL of the softmax); the mappings stay, and a run"
                    + " that ends worse on the calibration set keeps its start (default: ${DEFAULT-VALUE}, none)")
    int steps;

    @Option(names = "--fine-tune-lr", description = "fine-tuning's Adam learning rate (default: ${DEFAULT-VALUE})")
    float learningRate = FineTuning.DEFAULT_LEARNING_RATE;

    @Option(
            names = "--fine-tune-micro-batch",
            paramLabel = "N",
            description = "fine-tune on micro-batches of at most N samples (the same steps; less memory, a weight"
                    + " decode per micro-batch; default: ${DEFAULT-VALUE}, 0 = whole batches)")
    int microBatch;

    @Option(names = "--fine-tune-codebooks-only", description = "fine-tune only codebooks and scales, not the float parameters")
    boolean codebooksOnly;

    /**
     * Returns the settings of the options.
     *
     * @return the settings, or null without {@code --fine-tune-steps}
     * @throws IllegalArgumentException for a negative step count or a bad rate
     */
    public FineTuning settings() {
        if (steps < 0) {
            throw new IllegalArgumentException("--fine-tune-steps must not be negative, got " + steps);
        }
        if (steps == 0) {
            return null;
        }
        try {
            return FineTuning.builder()
                    .setSteps(steps)
                    .optLearningRate(learningRate)
                    .optFloatParameters(!codebooksOnly)
                    .optMicroBatch(microBatch)
                    .build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "--fine-tune-lr must be positive and --fine-tune-micro-batch not negative, got " + learningRate + " and "
                            + microBatch,
                    e);
        }
    }

    /**
     * Returns whether fine-tuning was asked for.
     *
     * @return whether {@code --fine-tune-steps} is positive
     */
    public boolean enabled() {
        return steps > 0;
    }

    /**
     * Prints a report's line.
     *
     * @param report the report, or null (nothing is printed)
     */
    public static void print(FineTuneReport report) {
        if (report != null) {
            System.out.printf(
                    Locale.ROOT,
                    "fine-tuning: %d steps on %d codebook and %d float values, calibration loss %.5f -> %.5f%s, %.1f s%n",
                    report.steps(),
                    report.codebookValues(),
                    report.floatValues(),
                    report.lossBefore(),
                    report.lossAfter(),
                    report.reverted() ? " (it ended higher: the start is kept)" : "",
                    report.seconds());
        }
    }

    /**
     * Adds a report to a command's JSON line as {@code fine_tune}.
     *
     * @param json the JSON line
     * @param report the report, or null (nothing is added)
     */
    public void addTo(JsonObject json, FineTuneReport report) {
        if (report == null) {
            return;
        }
        JsonObject ft = new JsonObject();
        ft.addProperty("steps", report.steps());
        ft.addProperty("learning_rate", learningRate);
        ft.addProperty("micro_batch", microBatch);
        ft.addProperty("float_parameters", !codebooksOnly);
        ft.addProperty("codebook_values", report.codebookValues());
        ft.addProperty("float_values", report.floatValues());
        ft.addProperty("loss_before", report.lossBefore());
        ft.addProperty("loss_after", report.lossAfter());
        ft.addProperty("reverted", report.reverted());
        ft.addProperty("seconds", report.seconds());
        json.add("fine_tune", ft);
    }
}
