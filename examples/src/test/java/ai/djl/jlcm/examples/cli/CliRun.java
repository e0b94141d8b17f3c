package ai.djl.jlcm.examples.cli;

import org.testng.Assert;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Runs the jlcm command line in-process for tests, capturing standard output and error. */
public final class CliRun {

    private CliRun() {}

    /**
     * Runs the command line and checks its exit code.
     *
     * @param expectedCode the exit code the run must end with
     * @param args the arguments
     * @return {stdout, stderr}
     */
    public static String[] run(int expectedCode, String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            Assert.assertEquals(JlcmCli.run(args), expectedCode, String.join(" ", args));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        return new String[] {o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8)};
    }
}
