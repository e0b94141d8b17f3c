package ai.djl.jlcm.examples.llm;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code jlcm llm generate}: tokens after a prompt of token ids, greedy or sampled with a seed. */
@Command(
        name = "generate",
        mixinStandardHelpOptions = true,
        description = {
            "Generate tokens after a prompt (token ids, or text through a tokenizer.json) with a float checkpoint or a compressed model",
            "directory: greedy, or sampled when --temperature is above 0. Ends with one JSON line."
        })
final class LlmGenerateCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, description = "a checkpoint directory or a directory written by 'llm compress'")
    Path model;

    @Option(names = "--tokens", split = ",", description = "the prompt as token ids, for example 1,450,4996")
    int[] tokens;

    @Option(names = "--prompt", description = "the prompt as text, encoded with the tokenizer (--tokenizer)")
    String prompt;

    @Option(names = "--tokenizer", description = "the tokenizer.json of --prompt (default: the one in --model)")
    Path tokenizer;

    @Option(names = "--max-new-tokens", defaultValue = "16", description = "tokens to generate (default: ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 for greedy decoding (default), else the sampling temperature")
    double temperature;

    @Option(names = "--seed", defaultValue = "0", description = "the seed of the sampling (default: ${DEFAULT-VALUE})")
    long seed;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("--max-new-tokens must be at least 1, got " + maxNewTokens);
        }
        if (temperature < 0 || Double.isNaN(temperature)) {
            throw new IllegalArgumentException("--temperature must be 0 or more, got " + temperature);
        }
        if ((tokens == null) == (prompt == null)) {
            throw new IllegalArgumentException("give the prompt as --tokens IDS or as --prompt TEXT (one of them)");
        }
        int[] promptIds;
        int[] generated;
        double seconds;
        String text = null;
        try (Model m = LlmCommand.open(model);
                NDManager manager = m.getNDManager().newSubManager();
                LlamaTokenizer words = prompt != null || tokenizer != null ? openTokenizer((LlamaModel) m.getBlock()) : null) {
            LlamaModel llama = (LlamaModel) m.getBlock();
            promptIds = prompt != null ? words.encode(prompt) : tokens;
            long start = System.nanoTime();
            generated = new LlamaGenerator(llama, temperature, seed).generate(manager, promptIds, maxNewTokens);
            seconds = (System.nanoTime() - start) / 1e9;
            if (words != null) {
                text = words.decode(generated);
            }
        }
        System.out.println("prompt:    " + ids(promptIds));
        System.out.println("generated: " + ids(generated));
        if (text != null) {
            System.out.println("text:      " + text);
        }
        System.out.printf(Locale.ROOT, "%d tokens in %.3f s (%.1f ms per token, prompt pass included)%n",
                generated.length, seconds, 1000 * seconds / generated.length);
        JsonObject json = new JsonObject();
        json.addProperty("model", model.toString());
        json.add("prompt", array(promptIds));
        json.add("tokens", array(generated));
        if (text != null) {
            json.addProperty("text", text);
        }
        json.addProperty("decoding", temperature > 0 ? "sampling" : "greedy");
        json.addProperty("seconds", seconds);
        json.addProperty("ms_per_token", 1000 * seconds / generated.length);
        System.out.println(json);
        return 0;
    }

    private LlamaTokenizer openTokenizer(LlamaModel llama) throws IOException {
        Path file = tokenizer != null ? tokenizer : model.resolve(LlamaTokenizer.FILE_NAME);
        return LlamaTokenizer.open(file, llama.getConfig().vocabSize());
    }

    private static String ids(int[] t) {
        return Arrays.stream(t).mapToObj(Integer::toString).collect(Collectors.joining(","));
    }

    private static JsonArray array(int[] t) {
        JsonArray a = new JsonArray();
        Arrays.stream(t).forEach(a::add);
        return a;
    }
}
