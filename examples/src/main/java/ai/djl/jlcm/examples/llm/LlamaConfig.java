package ai.djl.jlcm.examples.llm;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The dimensions of a Llama-family decoder, as in a Hugging Face {@code config.json}.
 *
 * @param hiddenSize {@code hidden_size}
 * @param intermediateSize {@code intermediate_size}, the SwiGLU width
 * @param layers {@code num_hidden_layers}
 * @param heads {@code num_attention_heads}
 * @param kvHeads {@code num_key_value_heads} (grouped-query attention; {@code heads} for plain
 *     multi-head attention)
 * @param vocabSize {@code vocab_size}
 * @param rmsNormEps {@code rms_norm_eps}
 * @param ropeTheta {@code rope_theta}
 * @param maxPositions {@code max_position_embeddings}
 * @param tieWordEmbeddings {@code tie_word_embeddings}: the LM head is the token embedding table
 */
public record LlamaConfig(
        int hiddenSize,
        int intermediateSize,
        int layers,
        int heads,
        int kvHeads,
        int vocabSize,
        float rmsNormEps,
        double ropeTheta,
        int maxPositions,
        boolean tieWordEmbeddings) {

    /** The file name of the configuration in a checkpoint directory. */
    public static final String FILE_NAME = "config.json";

    /** Llama-2-7B: 32 layers, hidden 4096, SwiGLU 11008, 32 heads, vocabulary 32000. */
    public static final LlamaConfig LLAMA_2_7B =
            new LlamaConfig(4096, 11008, 32, 32, 32, 32000, 1e-5f, 10000, 4096, false);

    /** A tiny decoder for tests and smoke runs: hidden 64, 2 layers, 4 heads, 2 KV heads. */
    public static final LlamaConfig TINY = new LlamaConfig(64, 128, 2, 4, 2, 256, 1e-5f, 10000, 256, false);

    /** Validates the dimensions. */
    public LlamaConfig {
        if (hiddenSize < 1 || intermediateSize < 1 || layers < 1 || heads < 1 || kvHeads < 1 || vocabSize < 1
                || maxPositions < 1) {
            throw new IllegalArgumentException("Llama dimensions must be positive");
        }
        if (hiddenSize % heads != 0 || (hiddenSize / heads) % 2 != 0) {
            throw new IllegalArgumentException(
                    "hidden_size " + hiddenSize + " must be " + heads + " heads of an even width");
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(
                    "num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        if (!(rmsNormEps > 0) || !(ropeTheta > 0)) {
            throw new IllegalArgumentException("rms_norm_eps and rope_theta must be positive");
        }
    }

    /**
     * Returns the width of one attention head.
     *
     * @return {@code hiddenSize / heads}
     */
    public int headSize() {
        return hiddenSize / heads;
    }

    /**
     * Returns the number of parameters (weights of the LM head counted once when tied).
     *
     * @return the parameter count
     */
    public long parameterCount() {
        long n = 0;
        for (long[] shape : tensorShapes().values()) {
            n += Arrays.stream(shape).reduce(1, Math::multiplyExact);
        }
        return n;
    }

    /**
     * Returns the Hugging Face checkpoint's tensors in the order {@code save_pretrained} writes them:
     * {@code model.embed_tokens.weight}, per layer the norms, projections and MLP, {@code
     * model.norm.weight}, and {@code lm_head.weight} unless tied.
     *
     * @return tensor name to shape
     */
    public Map<String, long[]> tensorShapes() {
        long h = hiddenSize;
        long kv = (long) kvHeads * headSize();
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", new long[] {vocabSize, h});
        for (int i = 0; i < layers; i++) {
            String p = "model.layers." + i + ".";
            m.put(p + "input_layernorm.weight", new long[] {h});
            m.put(p + "self_attn.q_proj.weight", new long[] {h, h});
            m.put(p + "self_attn.k_proj.weight", new long[] {kv, h});
            m.put(p + "self_attn.v_proj.weight", new long[] {kv, h});
            m.put(p + "self_attn.o_proj.weight", new long[] {h, h});
            m.put(p + "post_attention_layernorm.weight", new long[] {h});
            m.put(p + "mlp.gate_proj.weight", new long[] {intermediateSize, h});
            m.put(p + "mlp.up_proj.weight", new long[] {intermediateSize, h});
            m.put(p + "mlp.down_proj.weight", new long[] {h, intermediateSize});
        }
        m.put("model.norm.weight", new long[] {h});
        if (!tieWordEmbeddings) {
            m.put("lm_head.weight", new long[] {vocabSize, h});
        }
        return m;
    }

    /**
     * Reads {@value #FILE_NAME} (a Hugging Face Llama configuration; unknown keys are ignored, {@code
     * num_key_value_heads} defaults to the number of heads, {@code rope_theta} to 10000, {@code
     * tie_word_embeddings} to false).
     *
     * @param file the file
     * @return the configuration
     * @throws IOException if it cannot be read, or a required key is missing or malformed (named
     *     with the file)
     */
    public static LlamaConfig read(Path file) throws IOException {
        JsonObject o;
        try {
            JsonElement e = JsonParser.parseString(Files.readString(file));
            if (!e.isJsonObject()) {
                throw new IOException(file + ": not a JSON object");
            }
            o = e.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new IOException(file + ": malformed JSON (" + e.getMessage() + ")", e);
        }
        try {
            int heads = integer(o, "num_attention_heads", null, file);
            return new LlamaConfig(
                    integer(o, "hidden_size", null, file),
                    integer(o, "intermediate_size", null, file),
                    integer(o, "num_hidden_layers", null, file),
                    heads,
                    integer(o, "num_key_value_heads", heads, file),
                    integer(o, "vocab_size", null, file),
                    (float) number(o, "rms_norm_eps", 1e-6, file),
                    number(o, "rope_theta", 10000, file),
                    integer(o, "max_position_embeddings", 2048, file),
                    o.has("tie_word_embeddings") && o.get("tie_word_embeddings").getAsBoolean());
        } catch (IllegalArgumentException | IllegalStateException | UnsupportedOperationException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    private static int integer(JsonObject o, String key, Integer fallback, Path file) throws IOException {
        return (int) number(o, key, fallback == null ? Double.NaN : fallback, file);
    }

    private static double number(JsonObject o, String key, double fallback, Path file) throws IOException {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            if (Double.isNaN(fallback)) {
                throw new IOException(file + ": key '" + key + "' is missing");
            }
            return fallback;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw new IOException(file + ": key '" + key + "' is not a number");
        }
        return e.getAsDouble();
    }

    /**
     * Writes this configuration as a Hugging Face {@value #FILE_NAME}.
     *
     * @param file the file
     * @throws IOException if it cannot be written
     */
    public void write(Path file) throws IOException {
        JsonObject o = new JsonObject();
        com.google.gson.JsonArray architectures = new com.google.gson.JsonArray();
        architectures.add("LlamaForCausalLM");
        o.add("architectures", architectures);
        o.addProperty("model_type", "llama");
        o.addProperty("hidden_size", hiddenSize);
        o.addProperty("intermediate_size", intermediateSize);
        o.addProperty("num_hidden_layers", layers);
        o.addProperty("num_attention_heads", heads);
        o.addProperty("num_key_value_heads", kvHeads);
        o.addProperty("vocab_size", vocabSize);
        o.addProperty("rms_norm_eps", rmsNormEps);
        o.addProperty("rope_theta", ropeTheta);
        o.addProperty("max_position_embeddings", maxPositions);
        o.addProperty("tie_word_embeddings", tieWordEmbeddings);
        o.addProperty("hidden_act", "silu");
        Files.writeString(file, o.toString());
    }
}
