package ai.djl.jlcm.examples.cli;

import org.slf4j.LoggerFactory;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code jlcm} command line.
 *
 * <pre>
 * java -jar examples/target/jlcm.jar demo [--bits B] [--method rtn|kmeans] [--out DIR]
 * java -jar examples/target/jlcm.jar inspect DIR
 * java -jar examples/target/jlcm.jar bench DIR [--batch B] [--seq T] [--iters N] [--mode packed,byte,fp16,fp32] [--float DIR]
 * java -jar examples/target/jlcm.jar ablation [--dataset mnist|fashion-mnist] [--bits 1,2,3]
 * java -jar examples/target/jlcm.jar zoo [--dataset mnist|fashion-mnist] [--models …] [--bits …]
 * java -jar examples/target/jlcm.jar bert evaluate|compress
 * java -jar examples/target/jlcm.jar llm generate|perplexity|synth|compress|train|table
 * </pre>
 *
 * Each command prints a table and ends with one JSON line on standard output; logs go to standard
 * error.
 */
@Command(
        name = "jlcm",
        mixinStandardHelpOptions = true,
        version = "jlcm 0.1.0",
        description = "Grouped-codebook compression of DJL models.",
        subcommands = {DemoCommand.class, InspectCommand.class, BenchCommand.class, AblationCommand.class, ai.djl.jlcm.examples.bert.BertCommand.class, ai.djl.jlcm.examples.zoo.ZooCommand.class, ai.djl.jlcm.examples.llm.LlmCommand.class})
public final class JlcmCli implements Runnable {

    /**
     * Runs the command line.
     *
     * @param args the arguments
     */
    public static void main(String[] args) {
        System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
        HeapSizing.apply();
        System.exit(run(args));
    }

    /**
     * Runs the command line without exiting.
     *
     * @param args the arguments
     * @return the exit code: 0 on success, 1 when the command failed, 2 for bad arguments
     */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new JlcmCli());
        cli.setParameterExceptionHandler(
                (e, a) -> {
                    CommandLine cmd = e.getCommandLine();
                    cmd.getErr().println("jlcm: " + e.getMessage() + " (see '" + cmd.getCommandName() + " --help')");
                    return 2;
                });
        cli.setExecutionExceptionHandler(
                (e, cmd, parsed) -> {
                    cmd.getErr().println("jlcm " + cmd.getCommandName() + ": " + message(e));
                    // -Dorg.slf4j.simpleLogger.defaultLogLevel=debug shows where it failed
                    LoggerFactory.getLogger(JlcmCli.class).debug("jlcm {} failed", cmd.getCommandName(), e);
                    return 1;
                });
        return cli.execute(args);
    }

    private static String message(Throwable e) {
        Throwable t = e;
        while (t.getMessage() == null && t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

    /** {@inheritDoc} */
    @Override
    public void run() {
        throw new CommandLine.ParameterException(
                new CommandLine(this), "missing command: demo, inspect, bench, ablation, zoo, bert or llm");
    }
}
