package ai.djl.jlcm.examples.cli;

import ai.djl.util.Progress;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A progress bar like DJL's {@code ProgressBar}, drawn on standard error: the commands print their
 * results on standard output, where DJL's bar draws.
 */
public final class StderrProgressBar implements Progress {

    private static final int WIDTH = 40;

    private final PrintStream out;
    private String message = "";
    private String trailing = "";
    private long max;
    private long progress;

    /** Creates a bar on {@code System.err}. */
    public StderrProgressBar() {
        out = System.err;
    }

    /** {@inheritDoc} */
    @Override
    public void reset(String message, long max, String trailingMessage) {
        this.message = message;
        this.max = max;
        this.trailing = trailingMessage == null ? "" : trailingMessage;
        progress = 0;
    }

    /** {@inheritDoc} */
    @Override
    public void start(long initialProgress) {
        update(initialProgress, trailing);
    }

    /** {@inheritDoc} */
    @Override
    public void end() {
        update(max, trailing);
        out.println();
    }

    /** {@inheritDoc} */
    @Override
    public void increment(long increment) {
        update(progress + increment, trailing);
    }

    /** {@inheritDoc} */
    @Override
    public void update(long progress, String message) {
        this.progress = Math.min(progress, max);
        trailing = message == null ? "" : message;
        int filled = max <= 0 ? WIDTH : (int) (WIDTH * this.progress / max);
        out.print(
                String.format(
                        Locale.ROOT,
                        "\r%s [%s%s] %3d%% %s",
                        this.message,
                        "=".repeat(filled),
                        " ".repeat(WIDTH - filled),
                        max <= 0 ? 100 : 100 * this.progress / max,
                        trailing));
        out.flush();
    }
}
