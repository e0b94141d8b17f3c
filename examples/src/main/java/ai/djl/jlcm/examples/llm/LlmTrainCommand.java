package ai.djl.jlcm.examples.llm;

import ai.djl.Model;

import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code jlcm llm train}: a small Llama trained (seeded, cached) on the Brown calibration split, and
 * its perplexity on the Brown evaluation split and on Moby-Dick.
 */
@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        description = {
            "Train a small Llama decoder on the Brown calibration split (byte-level vocabulary, tied head),",
            "cached as a Hugging Face checkpoint, and report its perplexity on the Brown evaluation split and",
            "on Moby-Dick. Ends with one JSON line."
        })
final class LlmTrainCommand implements Callable<Integer> {

    @Mixin LlmTrainOptions options;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        LlmTraining.Recipe recipe = options.recipe();
        long start = System.nanoTime();
        LlmTrainOptions.Texts texts = LlmTrainOptions.Texts.fetch(options.cache);
        Path checkpoint = texts.checkpoint(recipe);
        double seconds = (System.nanoTime() - start) / 1e9;
        LlmTrainOptions.Evaluation evaluation = LlmTrainOptions.Evaluation.of(texts, options);
        LlmPerplexityCommand.Score[] scores;
        try (Model model = LlamaCheckpoint.loadModel(checkpoint)) {
            scores = evaluation.score(model);
        }
        long parameters = recipe.config().parameterCount();
        System.out.printf(Locale.ROOT, "| parameters | steps | batch | context | train or load seconds | ppl Brown eval | ppl Moby-Dick |%n");
        System.out.printf(Locale.ROOT, "|---|---|---|---|---|---|---|%n");
        System.out.printf(Locale.ROOT, "| %d | %d | %d | %d | %.1f |%s%n", parameters, recipe.steps(), recipe.batch(),
                recipe.config().maxPositions(), seconds, LlmTrainOptions.Evaluation.cells(scores));
        JsonObject json = new JsonObject();
        json.addProperty("checkpoint", checkpoint.toString());
        json.addProperty("parameters", parameters);
        json.addProperty("steps", recipe.steps());
        json.addProperty("seconds", seconds);
        json.addProperty("eval_tokens", evaluation.brown().length);
        LlmTrainOptions.Evaluation.addTo(json, scores);
        System.out.println(json);
        return 0;
    }
}
