package ai.djl.jlcm.examples.llm;

import ai.djl.jlcm.examples.cli.CliRun;
import ai.djl.jlcm.safetensors.SafetensorsCheckpoint;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.testng.Assert;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;

/** {@code jlcm llm synth | generate | perplexity | compress} on the tiny preset. */
public class LlmCommandTest {

    private Path root;
    private Path tiny;

    private static JsonObject json(String stdout) {
        String[] lines = stdout.strip().split("\n");
        return JsonParser.parseString(lines[lines.length - 1]).getAsJsonObject();
    }

    @BeforeClass
    public void synth() throws Exception {
        root = Files.createTempDirectory("jlcm-llm");
        tiny = root.resolve("tiny");
        // shards of at most 64 KB: the tiny preset in fp16 (about 0.5 MB) is written as several
        String[] r = CliRun.run(0, "llm", "synth", "--preset", "tiny", "--dtype", "bf16", "--out", tiny.toString(),
                "--max-shard-bytes", "65536");
        JsonObject j = json(r[0]);
        Assert.assertEquals(j.get("parameters").getAsLong(), LlamaConfig.TINY.parameterCount());
        Assert.assertTrue(j.get("files").getAsInt() > 1, r[0]);
        Assert.assertTrue(Files.isRegularFile(tiny.resolve(SafetensorsCheckpoint.INDEX_FILE)));
        Assert.assertEquals(LlamaConfig.read(tiny.resolve(LlamaConfig.FILE_NAME)), LlamaConfig.TINY);
    }

    @Test
    public void synthIsSeededAndRefusesNonEmptyDirectories() throws Exception {
        Path single = root.resolve("single");
        CliRun.run(0, "llm", "synth", "--preset", "tiny", "--dtype", "fp32", "--out", single.toString(), "--seed", "0");
        try (SafetensorsCheckpoint a = SafetensorsCheckpoint.open(single); SafetensorsCheckpoint b = SafetensorsCheckpoint.open(tiny)) {
            Assert.assertEquals(a.files().size(), 1, "under the shard size: one model.safetensors");
            String name = "model.layers.1.mlp.down_proj.weight";
            long[] shape = {64, 128};
            float[] f32 = a.readFloats(name, shape);
            float[] bf16 = b.readFloats(name, shape);
            for (int i = 0; i < f32.length; i++) {
                Assert.assertEquals(bf16[i], f32[i], Math.abs(f32[i]) / 128, "the same seeded values, rounded to bf16");
            }
        }
        String[] r = CliRun.run(1, "llm", "synth", "--preset", "tiny", "--out", single.toString());
        Assert.assertTrue(r[1].contains("is not empty"), r[1]);
        r = CliRun.run(1, "llm", "synth", "--preset", "llama-3", "--out", root.resolve("x").toString());
        Assert.assertTrue(r[1].contains("unknown --preset 'llama-3'"), r[1]);
        Assert.assertFalse(Files.exists(root.resolve("x")));
    }

    @Test
    public void generateAndPerplexityOnFloatAndCompressed() throws Exception {
        String[] r = CliRun.run(0, "llm", "generate", "--model", tiny.toString(), "--tokens", "1,2,3", "--max-new-tokens", "4");
        JsonObject floatRun = json(r[0]);
        Assert.assertEquals(floatRun.getAsJsonArray("tokens").size(), 4);
        Assert.assertEquals(floatRun.get("decoding").getAsString(), "greedy");
        r = CliRun.run(0, "llm", "generate", "--model", tiny.toString(), "--tokens", "1,2,3", "--max-new-tokens", "4",
                "--temperature", "0.8", "--seed", "5");
        Assert.assertEquals(json(r[0]).get("decoding").getAsString(), "sampling");

        Path ids = root.resolve("ids.txt");
        Files.writeString(ids, "5 17 200 3, 9 9 44\n12 0 255 31 7");
        r = CliRun.run(0, "llm", "perplexity", "--model", tiny.toString(), "--text", ids.toString(), "--window", "5");
        JsonObject ppl = json(r[0]);
        Assert.assertEquals(ppl.get("tokens").getAsInt(), 12);
        Assert.assertEquals(ppl.get("windows").getAsInt(), 3);
        Assert.assertEquals(ppl.get("predicted_tokens").getAsInt(), 4 + 4 + 1);
        Assert.assertTrue(ppl.get("perplexity").getAsDouble() > 1, r[0]);

        Path compressed = root.resolve("tiny-kmeans-8bit");
        r = CliRun.run(0, "llm", "compress", "--checkpoint", tiny.toString(), "--method", "kmeans", "--bits", "8",
                "--out", compressed.toString());
        JsonObject c = json(r[0]);
        Assert.assertEquals(c.get("layers").getAsInt(), 1 + 2 * 7 + 1, "token table, 7 per layer, LM head");
        // 8-bit indices plus 256 float32 codewords per (tiny) layer
        Assert.assertTrue(c.get("stored_bytes").getAsLong() < 4 * c.get("float_parameters").getAsLong() / 3, r[0]);
        r = CliRun.run(0, "llm", "generate", "--model", compressed.toString(), "--tokens", "1,2,3", "--max-new-tokens", "4");
        Assert.assertEquals(json(r[0]).getAsJsonArray("tokens").size(), 4);
        r = CliRun.run(0, "llm", "perplexity", "--model", compressed.toString(), "--text", ids.toString(), "--window", "5");
        double ratio = json(r[0]).get("perplexity").getAsDouble() / ppl.get("perplexity").getAsDouble();
        Assert.assertEquals(ratio, 1, 0.05, "8-bit k-means barely changes the perplexity: " + r[0]);

        r = CliRun.run(1, "llm", "compress", "--checkpoint", tiny.toString(), "--bits", "2", "--out", tiny.toString());
        Assert.assertTrue(r[1].contains("is not empty"), r[1]);
        r = CliRun.run(1, "llm", "compress", "--checkpoint", tiny.toString(), "--method", "jlcm", "--out", root.resolve("y").toString());
        Assert.assertTrue(r[1].contains("give --calibration FILE"), r[1]);
        r = CliRun.run(1, "llm", "compress", "--checkpoint", tiny.toString(), "--calibration", ids.toString(), "--out", root.resolve("y").toString());
        Assert.assertTrue(r[1].contains("--calibration applies to --method jlcm"), r[1]);
        r = CliRun.run(1, "llm", "compress", "--checkpoint", tiny.toString(), "--target-bits", "3", "--sensitivity", "fisher",
                "--out", root.resolve("y").toString());
        Assert.assertTrue(r[1].contains("--sensitivity fisher measures on calibration text, which --method jlcm takes"), r[1]);

        // JLCM learned on calibration ids, streamed: nearer the float model than the k-means it starts from, on other text
        Path calibration = root.resolve("calibration.txt");
        StringBuilder text = new StringBuilder();
        java.util.Random random = new java.util.Random(3);
        for (int i = 0; i < 64; i++) {
            text.append(random.nextInt(256)).append(' ');
        }
        Files.writeString(calibration, text);
        Path kmeans = root.resolve("tiny-kmeans-2bit-g2");
        Path jlcm = root.resolve("tiny-jlcm-2bit-g2");
        r = CliRun.run(0, "llm", "compress", "--checkpoint", tiny.toString(), "--method", "kmeans", "--bits", "2", "--groups", "2",
                "--out", kmeans.toString());
        JsonObject k = json(r[0]);
        r = CliRun.run(0, "llm", "compress", "--checkpoint", tiny.toString(), "--method", "jlcm", "--bits", "2", "--groups", "2",
                "--calibration", calibration.toString(), "--calibration-windows", "4", "--window", "16", "--steps", "20",
                "--out", jlcm.toString());
        JsonObject j = json(r[0]);
        Assert.assertEquals(j.get("method").getAsString(), "jlcm", r[0]);
        Assert.assertEquals(j.get("layers").getAsInt(), k.get("layers").getAsInt());
        Assert.assertEquals(j.get("stored_bytes").getAsLong(), k.get("stored_bytes").getAsLong(), "the same storage as KMEANS-GROUPED");
        int[] window = new int[16];
        for (int i = 0; i < window.length; i++) {
            window[i] = random.nextInt(256);
        }
        float[] reference = logits(tiny, window);
        double kmeansError = distance(logits(kmeans, window), reference);
        double jlcmError = distance(logits(jlcm, window), reference);
        Assert.assertTrue(jlcmError < kmeansError,
                "JLCM's logits are nearer the float model's than k-means': " + jlcmError + " vs " + kmeansError);
    }

    @Test
    public void badInputIsNamed() throws Exception {
        String[] r = CliRun.run(1, "llm", "generate", "--model", tiny.toString(), "--tokens", "1,256");
        Assert.assertTrue(r[1].contains("token 256 is outside the vocabulary [0, 256)"), r[1]);
        r = CliRun.run(1, "llm", "generate", "--model", root.toString(), "--tokens", "1");
        Assert.assertTrue(r[1].contains("neither a safetensors checkpoint nor a model directory"), r[1]);
        r = CliRun.run(2, "llm", "generate", "--model", tiny.toString(), "--tokens", "a,b");
        Path bad = root.resolve("bad.txt");
        Files.writeString(bad, "1 2 x");
        r = CliRun.run(1, "llm", "perplexity", "--model", tiny.toString(), "--text", bad.toString());
        Assert.assertTrue(r[1].contains("bad.txt is not a list of token ids"), r[1]);
        r = CliRun.run(2, "llm");
        Assert.assertTrue(r[1].contains("missing command: generate, perplexity, synth, compress, train or table"), r[1]);
    }

    @Test
    public void aTextPromptGoesThroughTheCheckpointsTokenizer() throws Exception {
        Path dir = root.resolve("tiny-with-tokenizer");
        CliRun.run(0, "llm", "synth", "--preset", "tiny", "--out", dir.toString());
        // a word-level tokenizer.json of the tiny vocabulary: word wN is id N
        StringBuilder vocab = new StringBuilder();
        for (int i = 0; i < 256; i++) {
            vocab.append(i == 0 ? "" : ",").append("\"w").append(i).append("\":").append(i);
        }
        Files.writeString(dir.resolve("tokenizer.json"),
                "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[],\"normalizer\":null,"
                        + "\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"post_processor\":null,\"decoder\":null,"
                        + "\"model\":{\"type\":\"WordLevel\",\"vocab\":{" + vocab + "},\"unk_token\":\"w0\"}}");
        String[] r = CliRun.run(0, "llm", "generate", "--model", dir.toString(), "--prompt", "w7 w42 w3", "--max-new-tokens", "4");
        JsonObject text = json(r[0]);
        Assert.assertEquals(text.getAsJsonArray("prompt").toString(), "[7,42,3]", r[0]);
        String[] byIds = CliRun.run(0, "llm", "generate", "--model", dir.toString(), "--tokens", "7,42,3", "--max-new-tokens", "4");
        Assert.assertEquals(text.getAsJsonArray("tokens"), json(byIds[0]).getAsJsonArray("tokens"));
        StringBuilder words = new StringBuilder();
        text.getAsJsonArray("tokens").forEach(t -> words.append(words.length() == 0 ? "" : " ").append("w").append(t.getAsInt()));
        Assert.assertEquals(text.get("text").getAsString(), words.toString(), r[0]);

        r = CliRun.run(1, "llm", "generate", "--model", tiny.toString(), "--prompt", "w1");
        Assert.assertTrue(r[1].contains("No tokenizer at"), r[1]);
        r = CliRun.run(1, "llm", "generate", "--model", dir.toString(), "--prompt", "w1", "--tokens", "1");
        Assert.assertTrue(r[1].contains("one of them"), r[1]);
        Path broken = root.resolve("broken-tokenizer.json");
        Files.writeString(broken, "{\"model\": 3}");
        r = CliRun.run(1, "llm", "generate", "--model", dir.toString(), "--prompt", "w1", "--tokenizer", broken.toString());
        Assert.assertTrue(r[1].contains("is not a tokenizer.json"), r[1]);
    }

    private static float[] logits(Path model, int[] ids) throws Exception {
        try (ai.djl.Model m = LlmCommand.open(model); ai.djl.ndarray.NDManager manager = m.getNDManager().newSubManager()) {
            ai.djl.ndarray.NDList out = m.getBlock().forward(new ai.djl.training.ParameterStore(manager, false),
                    new ai.djl.ndarray.NDList(manager.create(ids, new ai.djl.ndarray.types.Shape(1, ids.length))), false);
            return out.head().toFloatArray();
        }
    }

    private static double distance(float[] a, float[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += (a[i] - b[i]) * (double) (a[i] - b[i]);
        }
        return Math.sqrt(sum);
    }
}
