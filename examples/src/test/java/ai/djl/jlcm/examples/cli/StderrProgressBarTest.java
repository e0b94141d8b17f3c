package ai.djl.jlcm.examples.cli;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

public class StderrProgressBarTest {

    @Test
    public void drawsOnStandardErrorAndEndsFull() {
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            StderrProgressBar bar = new StderrProgressBar();
            bar.reset("stage", 200, "");
            bar.update(50, "ETA 3 s");
            bar.end();
        } finally {
            System.setErr(err);
        }
        String[] frames = captured.toString(StandardCharsets.UTF_8).split("\r");
        Assert.assertEquals(frames.length, 3, captured.toString(StandardCharsets.UTF_8));
        Assert.assertEquals(frames[1], "stage [" + "=".repeat(10) + " ".repeat(30) + "]  25% ETA 3 s");
        Assert.assertEquals(frames[2].strip(), "stage [" + "=".repeat(40) + "] 100% ETA 3 s");
    }
}
