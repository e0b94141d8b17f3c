package ai.djl.jlcm.examples.llm;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.jlcm.pipeline.Stage;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.testng.Assert;
import org.testng.annotations.DataProvider;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * The Llama blocks against the independent numpy reference ({@code llm/reference.py}, whose
 * checkpoints and logits are the test resources): full forward, incremental forward through the KV
 * cache, and the stages.
 */
public class LlamaModelTest {

    private static final float TOLERANCE = 1e-4f;

    static Path fixture(String name) throws Exception {
        return Path.of(LlamaModelTest.class.getResource("/llm/" + name).toURI());
    }

    @DataProvider
    public Object[][] fixtures() {
        return new Object[][] {{"tiny-gqa-bf16"}, {"tiny-tied-f32"}};
    }

    private static JsonObject expected(Path dir) throws Exception {
        return JsonParser.parseString(Files.readString(dir.resolve("expected.json"))).getAsJsonObject();
    }

    private static int[] tokens(JsonObject expected) {
        return Stream.of(expected.getAsJsonArray("tokens")).flatMap(a -> a.asList().stream()).mapToInt(e -> e.getAsInt()).toArray();
    }

    private static void assertClose(float[] actual, float[] expected, int offset, String what) {
        for (int i = 0; i < actual.length; i++) {
            Assert.assertEquals(actual[i], expected[offset + i], TOLERANCE, what + " at " + (offset + i));
        }
    }

    @Test(dataProvider = "fixtures")
    public void logitsMatchTheReference(String name) throws Exception {
        Path dir = fixture(name);
        JsonObject expected = expected(dir);
        int[] tokens = tokens(expected);
        float[] want = new float[expected.getAsJsonArray("logits").size()];
        for (int i = 0; i < want.length; i++) {
            want[i] = expected.getAsJsonArray("logits").get(i).getAsFloat();
        }
        try (Model model = LlamaCheckpoint.loadModel(dir); NDManager m = model.getNDManager().newSubManager()) {
            LlamaModel llama = (LlamaModel) model.getBlock();
            int v = llama.getConfig().vocabSize();
            ParameterStore ps = new ParameterStore(m, false);
            NDArray ids = m.create(tokens, new Shape(1, tokens.length));
            NDArray full = llama.forward(ps, new NDList(ids), false).head();
            Assert.assertEquals(full.getShape(), new Shape(1, tokens.length, v));
            assertClose(full.toFloatArray(), want, 0, name + " full forward");

            // the same sequence through the KV cache: a prefix of 4 tokens, then one at a time
            try (KvCache cache = new KvCache(m, llama.getConfig().layers())) {
                int done = 0;
                while (done < tokens.length) {
                    int n = done == 0 ? 4 : 1;
                    NDArray piece = m.create(java.util.Arrays.copyOfRange(tokens, done, done + n), new Shape(1, n));
                    float[] logits = llama.forward(ps, piece, cache).toFloatArray();
                    assertClose(logits, want, done * v, name + " incremental");
                    done += n;
                }
                Assert.assertEquals(cache.length(), tokens.length);
            }

            // the stages in order give the model's output
            NDList h = new NDList(ids);
            for (Stage s : llama.stages()) {
                h = s.forward().apply(ps, h, false);
            }
            assertClose(h.head().toFloatArray(), want, 0, name + " stages");
        }
    }

    @Test
    public void stagesOwnEveryLayerOnce() throws Exception {
        try (Model model = LlamaCheckpoint.loadModel(fixture("tiny-tied-f32"))) {
            LlamaModel llama = (LlamaModel) model.getBlock();
            var stages = llama.stages();
            Assert.assertEquals(stages.size(), 1 + 1 + 1);
            Assert.assertTrue(stages.get(0).owns("embed_tokens"));
            Assert.assertTrue(stages.get(1).owns("layer_00/self_attn/q_proj"));
            Assert.assertTrue(stages.get(2).owns("norm"));
            Assert.assertTrue(stages.get(2).runs("embed_tokens"), "the tied head runs the token table");
        }
    }

    @Test
    public void greedyGenerationFollowsTheArgmaxOfTheFullForward() throws Exception {
        try (Model model = LlamaCheckpoint.loadModel(fixture("tiny-gqa-bf16")); NDManager m = model.getNDManager().newSubManager()) {
            LlamaModel llama = (LlamaModel) model.getBlock();
            int[] prompt = {3, 17, 42};
            int[] generated = new LlamaGenerator(llama, 0, 0).generate(m, prompt, 5);
            int[] seq = java.util.Arrays.copyOf(prompt, prompt.length + generated.length);
            System.arraycopy(generated, 0, seq, prompt.length, generated.length);
            NDArray logits = llama.forward(new ParameterStore(m, false), new NDList(m.create(seq, new Shape(1, seq.length))), false).head();
            int[] argmax = logits.argMax(-1).toType(ai.djl.ndarray.types.DataType.INT32, false).toIntArray();
            for (int i = 0; i < generated.length; i++) {
                Assert.assertEquals(generated[i], argmax[prompt.length - 1 + i], "token " + i);
            }
            int[] a = new LlamaGenerator(llama, 1.0, 42).generate(m, prompt, 8);
            int[] b = new LlamaGenerator(llama, 1.0, 42).generate(m, prompt, 8);
            Assert.assertEquals(a, b, "sampling with a seed is reproducible");
            Assert.expectThrows(IllegalArgumentException.class, () -> new LlamaGenerator(llama, 0, 0).generate(m, new int[] {50}, 1));
            Assert.expectThrows(IllegalArgumentException.class, () -> new LlamaGenerator(llama, 0, 0).generate(m, prompt, 62));
        }
    }

    @Test
    public void parameterCounts() throws Exception {
        Assert.assertEquals(LlamaConfig.LLAMA_2_7B.parameterCount(), 6_738_415_616L);
        try (Model model = LlamaCheckpoint.loadModel(fixture("tiny-gqa-bf16"))) {
            long n = 0;
            for (var p : model.getBlock().getParameters()) {
                n += p.getValue().getArray().size();
            }
            LlamaModel llama = (LlamaModel) model.getBlock();
            Assert.assertEquals(n, llama.getConfig().parameterCount());
            var mapping = LlamaCheckpoint.mapping(llama);
            var shapes = llama.getConfig().tensorShapes();
            Assert.assertEquals(java.util.List.copyOf(mapping.keySet()), java.util.List.copyOf(shapes.keySet()));
            mapping.forEach((name, p) -> Assert.assertEquals(p.getArray().getShape().getShape(), shapes.get(name), name));
        }
    }

    @Test
    public void checkpointMismatchesAreNamed() throws Exception {
        Path dir = Files.createTempDirectory("jlcm-llama");
        Path src = fixture("tiny-tied-f32");
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        String config = Files.readString(src.resolve("config.json"));
        Files.writeString(dir.resolve("config.json"), config.replace("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false"));
        String e = Assert.expectThrows(MalformedModelException.class, () -> LlamaCheckpoint.loadModel(dir).close()).getMessage();
        Assert.assertTrue(e.contains("lacks 1 tensor") && e.contains("lm_head.weight"), e);
        Files.writeString(dir.resolve("config.json"), config.replace("\"intermediate_size\": 40", "\"intermediate_size\": 41"));
        e = Assert.expectThrows(MalformedModelException.class, () -> LlamaCheckpoint.loadModel(dir).close()).getMessage();
        Assert.assertTrue(e.contains("model.layers.0.mlp.gate_proj.weight") && e.contains("[40, 16]") && e.contains("[41, 16]"), e);
        Files.writeString(dir.resolve("config.json"), config.replace("\"hidden_size\": 16,", ""));
        e = Assert.expectThrows(java.io.IOException.class, () -> LlamaCheckpoint.loadModel(dir).close()).getMessage();
        Assert.assertTrue(e.contains("config.json") && e.contains("'hidden_size' is missing"), e);
    }
}
