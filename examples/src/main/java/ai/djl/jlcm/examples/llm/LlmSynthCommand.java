package ai.djl.jlcm.examples.llm;

import ai.djl.jlcm.export.ModelDirectory;
import ai.djl.jlcm.safetensors.SafetensorsDtype;

import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code jlcm llm synth}: a seeded random checkpoint with the real shapes of a preset. */
@Command(
        name = "synth",
        mixinStandardHelpOptions = true,
        description = {
            "Write a checkpoint of seeded random weights with a preset's real shapes in the Hugging Face",
            "layout, streaming (memory stays small). llama-2-7b: 6.74 B parameters, 13.5 GB in fp16.",
            "Ends with one JSON line."
        })
final class LlmSynthCommand implements Callable<Integer> {

    /** The presets. */
    enum Preset {
        TINY(LlamaConfig.TINY),
        LLAMA_2_7B(LlamaConfig.LLAMA_2_7B);

        final LlamaConfig config;

        Preset(LlamaConfig config) {
            this.config = config;
        }

        static Preset of(String name) {
            for (Preset p : values()) {
                if (p.name().toLowerCase(Locale.ROOT).replace('_', '-').equals(name)) {
                    return p;
                }
            }
            throw new IllegalArgumentException("unknown --preset '" + name + "'; choose tiny or llama-2-7b");
        }
    }

    @Option(names = "--preset", required = true, description = "tiny or llama-2-7b")
    String preset;

    @Option(names = "--dtype", defaultValue = "fp16", description = "fp32, fp16 or bf16 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--out", required = true, description = "an absent or empty directory")
    Path out;

    @Option(names = "--seed", defaultValue = "0", description = "the seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--max-shard-bytes", defaultValue = "10000000000",
            description = "the most tensor bytes per file; more make shards with an index (default: ${DEFAULT-VALUE}, two shards for llama-2-7b in fp16 as published)")
    long maxShardBytes;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        LlamaConfig config = Preset.of(preset).config;
        SafetensorsDtype type = dtype(dtype);
        if (maxShardBytes < 1) {
            throw new IllegalArgumentException("--max-shard-bytes must be positive");
        }
        SyntheticCheckpoint.Summary[] summary = new SyntheticCheckpoint.Summary[1];
        long start = System.nanoTime();
        ModelDirectory.write(out, false, dir -> summary[0] = SyntheticCheckpoint.write(dir, config, type, seed, maxShardBytes));
        double seconds = (System.nanoTime() - start) / 1e9;
        SyntheticCheckpoint.Summary s = summary[0];
        System.out.printf(Locale.ROOT, "| preset | dtype | parameters | tensors | files | data bytes | seconds |%n|---|---|---|---|---|---|---|%n");
        System.out.printf(Locale.ROOT, "| %s | %s | %d | %d | %d | %d | %.1f |%n",
                preset, type, s.parameters(), s.tensors(), s.files().size(), s.dataBytes(), seconds);
        JsonObject json = new JsonObject();
        json.addProperty("out", out.toString());
        json.addProperty("preset", preset);
        json.addProperty("dtype", type.name());
        json.addProperty("parameters", s.parameters());
        json.addProperty("tensors", s.tensors());
        json.addProperty("files", s.files().size());
        json.addProperty("data_bytes", s.dataBytes());
        json.addProperty("seconds", seconds);
        System.out.println(json);
        return 0;
    }

    private static SafetensorsDtype dtype(String name) {
        switch (name.toLowerCase(Locale.ROOT)) {
            case "fp32":
                return SafetensorsDtype.F32;
            case "fp16":
                return SafetensorsDtype.F16;
            case "bf16":
                return SafetensorsDtype.BF16;
            default:
                throw new IllegalArgumentException("unknown --dtype '" + name + "'; choose fp32, fp16 or bf16");
        }
    }
}
