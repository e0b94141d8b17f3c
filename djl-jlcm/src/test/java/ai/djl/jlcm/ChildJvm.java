package ai.djl.jlcm;

import org.testng.Assert;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A test's child JVM, run until it prints a mark and killed there with SIGKILL. */
public final class ChildJvm {

    private ChildJvm() {}

    /**
     * Prints a mark for the parent, then waits to be killed.
     *
     * @param mark the line to print
     */
    public static void stopHere(String mark) {
        System.out.println(mark);
        System.out.flush();
        try {
            Thread.sleep(600_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Runs a main class on this JVM's class path until it prints a mark, kills it with SIGKILL and
     * checks that it died of it.
     *
     * @param main the main class
     * @param mark the line that the child prints where it is to be killed
     * @param args the child's arguments
     * @return the lines the child printed before the mark
     * @throws Exception if the child cannot be run
     */
    public static List<String> killAt(Class<?> main, String mark, String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Dai.djl.offline=true");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(main.getName());
        command.addAll(List.of(args));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        boolean reached = false;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.equals(mark)) {
                    reached = true;
                    break;
                }
                lines.add(line);
            }
            Assert.assertTrue(reached, "the child printed " + mark + "; its output: " + String.join("\n", lines));
            child.destroyForcibly(); // SIGKILL on Linux
            Assert.assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        } finally {
            child.destroyForcibly();
        }
        Assert.assertEquals(child.exitValue(), 137, "killed by SIGKILL");
        return lines;
    }
}
