package ai.djl.jlcm.examples.llm;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.jlcm.examples.cli.ModelDirectories;
import ai.djl.jlcm.safetensors.SafetensorsCheckpoint;
import ai.djl.repository.zoo.ModelNotFoundException;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code jlcm llm}: Llama-family decoders from Hugging Face checkpoints: {@code synth} writes a
 * seeded random checkpoint, {@code train} trains a small one on the Brown corpus, {@code compress}
 * compresses one data-free into a model directory, {@code generate} and {@code perplexity} run
 * either, and {@code table} measures the trained one compressed by each method.
 */
@Command(
        name = "llm",
        mixinStandardHelpOptions = true,
        description = {
            "Llama-family decoder LLMs from Hugging Face safetensors checkpoints (config.json plus",
            "model.safetensors or shards with model.safetensors.index.json), float or compressed."
        },
        subcommands = {LlmGenerateCommand.class, LlmPerplexityCommand.class, LlmSynthCommand.class, LlmCompressCommand.class, LlmTrainCommand.class, LlmTableCommand.class})
public final class LlmCommand implements Runnable {

    @Spec CommandSpec spec;

    /** {@inheritDoc} */
    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command: generate, perplexity, synth, compress, train or table");
    }

    /**
     * Opens {@code --model}: a float checkpoint directory, or a compressed model directory written by
     * {@code llm compress}.
     *
     * @param dir the directory
     * @return the model, whose block is a {@link LlamaModel}; the caller closes it
     * @throws IOException if it cannot be read
     * @throws MalformedModelException if it is malformed
     * @throws ModelNotFoundException if it is no model directory
     * @throws IllegalArgumentException if it is neither kind, or holds another architecture
     */
    static Model open(Path dir) throws IOException, MalformedModelException, ModelNotFoundException {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(dir + " is not a directory");
        }
        if (SafetensorsCheckpoint.isCheckpoint(dir)) {
            return LlamaCheckpoint.loadModel(dir);
        }
        if (!Files.isRegularFile(dir.resolve("serving.properties"))) {
            throw new IllegalArgumentException(
                    dir + " holds neither a safetensors checkpoint nor a model directory (serving.properties)");
        }
        Model model = ModelDirectories.load(dir);
        if (!(model.getBlock() instanceof LlamaModel)) {
            String kind = model.getBlock().getClass().getSimpleName();
            model.close();
            throw new IllegalArgumentException(dir + " holds a " + kind + ", not a Llama model");
        }
        return model;
    }
}
