package ai.djl.jlcm.examples.cli;

import org.testng.Assert;
import org.testng.annotations.Test;


public class JlcmCliTest {

    private static String[] run(int expectedCode, String... args) {
        return CliRun.run(expectedCode, args);
    }

    @Test
    public void helpOnEveryCommand() {
        Assert.assertTrue(run(0, "--help")[0].contains("demo"));
        Assert.assertTrue(run(0, "demo", "--help")[0].contains("--bits"));
        Assert.assertTrue(run(0, "inspect", "--help")[0].contains("DIR"));
    }

    @Test
    public void badArgumentsGiveOneLineAndNonZeroExit() {
        String[] r = run(2, "demo", "--method", "magic");
        Assert.assertEquals(r[1].strip().lines().count(), 1, r[1]);
        Assert.assertTrue(r[1].contains("rtn, kmeans"), r[1]);
        r = run(1, "demo", "--bits", "9");
        Assert.assertEquals(r[1].strip().lines().count(), 1, r[1]);
        Assert.assertTrue(r[1].contains("between 1 and 8"), r[1]);
        r = run(1, "inspect", "no-such-directory");
        Assert.assertTrue(r[1].contains("not a directory"), r[1]);
        Assert.assertEquals(run(2, "frobnicate")[1].strip().lines().count(), 1);
        run(2);
    }
}
