package ai.djl.jlcm.examples.llm;

import ai.djl.jlcm.safetensors.SafetensorsCheckpoint;
import ai.djl.jlcm.safetensors.SafetensorsDtype;
import ai.djl.jlcm.safetensors.SafetensorsWriter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Writes a checkpoint of seeded random weights with a configuration's real shapes, in the Hugging
 * Face layout: {@code config.json}, and {@code model.safetensors} or shards {@code
 * model-0000N-of-0000M.safetensors} of at most a given size plus {@code
 * model.safetensors.index.json}. Values are generated and written a chunk at a time, so memory stays
 * small whatever the model's size. Norm weights are 1, other weights normal with standard deviation
 * {@code 1/sqrt(in)} (the token table 1); each tensor has its own generator, seeded from the seed
 * and its name, so any tensor's values do not depend on the others.
 */
public final class SyntheticCheckpoint {

    private static final int CHUNK = 1 << 16;

    private SyntheticCheckpoint() {}

    /**
     * What was written.
     *
     * @param files the safetensors files
     * @param tensors the number of tensors
     * @param parameters the number of values
     * @param dataBytes the bytes of tensor data (the index's {@code total_size})
     */
    public record Summary(List<String> files, int tensors, long parameters, long dataBytes) {}

    /**
     * Writes the checkpoint into a directory.
     *
     * @param dir an empty directory
     * @param config the dimensions
     * @param dtype the stored element type
     * @param seed the seed
     * @param maxShardBytes the most tensor bytes per file (a larger tensor gets a file of its own)
     * @return what was written
     * @throws IOException if a file cannot be written
     */
    public static Summary write(Path dir, LlamaConfig config, SafetensorsDtype dtype, long seed, long maxShardBytes)
            throws IOException {
        config.write(dir.resolve(LlamaConfig.FILE_NAME));
        List<List<SafetensorsWriter.Spec>> shards = new ArrayList<>();
        List<SafetensorsWriter.Spec> shard = new ArrayList<>();
        long shardBytes = 0;
        long total = 0;
        long parameters = 0;
        for (Map.Entry<String, long[]> e : config.tensorShapes().entrySet()) {
            SafetensorsWriter.Spec spec = new SafetensorsWriter.Spec(e.getKey(), dtype, e.getValue());
            if (!shard.isEmpty() && shardBytes + spec.bytes() > maxShardBytes) {
                shards.add(shard);
                shard = new ArrayList<>();
                shardBytes = 0;
            }
            shard.add(spec);
            shardBytes += spec.bytes();
            total += spec.bytes();
            parameters += spec.bytes() / dtype.bytes();
        }
        shards.add(shard);
        List<String> files = new ArrayList<>();
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (int s = 0; s < shards.size(); s++) {
            String name = shards.size() == 1
                    ? SafetensorsCheckpoint.SINGLE_FILE
                    : String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", s + 1, shards.size());
            files.add(name);
            try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve(name), shards.get(s), Map.of("format", "pt"))) {
                for (SafetensorsWriter.Spec spec : shards.get(s)) {
                    writeRandom(w, spec, seed);
                    weightMap.put(spec.name(), name);
                }
            }
        }
        if (shards.size() > 1) {
            SafetensorsWriter.writeIndex(dir, weightMap, total);
        }
        return new Summary(files, weightMap.size(), parameters, total);
    }

    private static void writeRandom(SafetensorsWriter w, SafetensorsWriter.Spec spec, long seed) throws IOException {
        long[] shape = spec.shape();
        long count = spec.bytes() / spec.dtype().bytes();
        boolean norm = shape.length == 1;
        double std = spec.name().equals("model.embed_tokens.weight") ? 1 : 1 / Math.sqrt(shape[shape.length - 1]);
        Random random = new Random(seed * 31 + spec.name().hashCode());
        float[] chunk = new float[CHUNK];
        for (long done = 0; done < count; ) {
            int n = (int) Math.min(CHUNK, count - done);
            for (int i = 0; i < n; i++) {
                chunk[i] = norm ? 1f : (float) (random.nextGaussian() * std);
            }
            w.write(chunk, 0, n);
            done += n;
        }
    }
}
