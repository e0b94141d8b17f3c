package ai.djl.jlcm.safetensors;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A checkpoint in the Hugging Face layout: {@code model.safetensors}, or shards {@code
 * model-0000N-of-0000M.safetensors} listed by {@code model.safetensors.index.json} ({@code
 * weight_map}: tensor name to shard file). Opening reads every shard's header; tensors are read one
 * at a time, memory-mapped.
 */
public final class SafetensorsCheckpoint implements AutoCloseable {

    /** The single-file checkpoint's name. */
    public static final String SINGLE_FILE = "model.safetensors";

    /** The shard index's name. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path location;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byTensor;

    private SafetensorsCheckpoint(Path location, List<SafetensorsFile> files, Map<String, SafetensorsFile> byTensor) {
        this.location = location;
        this.files = files;
        this.byTensor = byTensor;
    }

    /**
     * Returns whether a directory holds a checkpoint: {@value #INDEX_FILE} or {@value #SINGLE_FILE}.
     *
     * @param dir the directory
     * @return whether one of the two files is there
     */
    public static boolean isCheckpoint(Path dir) {
        return Files.isRegularFile(dir.resolve(INDEX_FILE)) || Files.isRegularFile(dir.resolve(SINGLE_FILE));
    }

    /**
     * Opens a checkpoint: a directory (sharded if it has {@value #INDEX_FILE}, else {@value
     * #SINGLE_FILE}), an index file, or one {@code .safetensors} file.
     *
     * @param location the directory or file
     * @return the open checkpoint; the caller closes it
     * @throws IOException if a file cannot be read, or the directory holds no checkpoint
     * @throws MalformedModelException if a header or the index is malformed, or the index names a
     *     tensor its shard lacks
     */
    public static SafetensorsCheckpoint open(Path location) throws IOException, MalformedModelException {
        Path index = location;
        if (Files.isDirectory(location)) {
            index = location.resolve(INDEX_FILE);
            if (!Files.isRegularFile(index)) {
                Path single = location.resolve(SINGLE_FILE);
                if (!Files.isRegularFile(single)) {
                    throw new IOException(location + " holds neither " + INDEX_FILE + " nor " + SINGLE_FILE);
                }
                return single(location, single);
            }
        } else if (!location.getFileName().toString().endsWith(".json")) {
            return single(location, location);
        }
        return sharded(index);
    }

    private static SafetensorsCheckpoint single(Path location, Path file) throws IOException, MalformedModelException {
        SafetensorsFile f = SafetensorsFile.open(file);
        Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
        for (String name : f.names()) {
            byTensor.put(name, f);
        }
        return new SafetensorsCheckpoint(location, List.of(f), Collections.unmodifiableMap(byTensor));
    }

    private static SafetensorsCheckpoint sharded(Path index) throws IOException, MalformedModelException {
        Map<String, String> weightMap = weightMap(index);
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                String shard = e.getValue();
                if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.startsWith(".")) {
                    throw new MalformedModelException(index + ": tensor '" + e.getKey() + "' names shard '" + shard + "', not a file name");
                }
                SafetensorsFile f = shards.get(shard);
                if (f == null) {
                    Path path = index.resolveSibling(shard);
                    if (!Files.isRegularFile(path)) {
                        throw new MalformedModelException(index + ": tensor '" + e.getKey() + "' is in shard " + shard + ", which is missing");
                    }
                    f = SafetensorsFile.open(path);
                    shards.put(shard, f);
                }
                if (!f.contains(e.getKey())) {
                    throw new MalformedModelException(
                            index + ": tensor '" + e.getKey() + "' is mapped to " + f.getFile() + ", which has no such tensor");
                }
                byTensor.put(e.getKey(), f);
            }
        } catch (IOException | MalformedModelException | RuntimeException e) {
            for (SafetensorsFile f : shards.values()) {
                f.close();
            }
            throw e;
        }
        return new SafetensorsCheckpoint(index, List.copyOf(shards.values()), Collections.unmodifiableMap(byTensor));
    }

    private static Map<String, String> weightMap(Path index) throws IOException, MalformedModelException {
        JsonElement root;
        try {
            root = JsonParser.parseString(Files.readString(index));
        } catch (JsonParseException e) {
            throw new MalformedModelException(index + ": malformed JSON (" + e.getMessage() + ")", e);
        }
        JsonElement map = root.isJsonObject() ? root.getAsJsonObject().get("weight_map") : null;
        if (map == null || !map.isJsonObject()) {
            throw new MalformedModelException(index + ": no weight_map object");
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : ((JsonObject) map).entrySet()) {
            JsonElement v = e.getValue();
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
                throw new MalformedModelException(index + ": weight_map entry '" + e.getKey() + "' is not a file name");
            }
            m.put(e.getKey(), v.getAsString());
        }
        return m;
    }

    /**
     * Returns what was opened.
     *
     * @return the directory, index or file
     */
    public Path getLocation() {
        return location;
    }

    /**
     * Returns the open files.
     *
     * @return one per shard, in the order the index first names them
     */
    public List<SafetensorsFile> files() {
        return files;
    }

    /**
     * Returns the tensor names.
     *
     * @return the names, in index (or header) order
     */
    public Set<String> names() {
        return byTensor.keySet();
    }

    /**
     * Returns whether the checkpoint has a tensor.
     *
     * @param name the tensor name
     * @return whether it has
     */
    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    /**
     * Returns a tensor's header entry.
     *
     * @param name the tensor name
     * @return its description
     * @throws MalformedModelException if there is no such tensor
     */
    public TensorInfo info(String name) throws MalformedModelException {
        return file(name).info(name);
    }

    /**
     * Reads a tensor as floats and checks its shape.
     *
     * @param name the tensor name
     * @param expected the shape the caller needs
     * @return its values, row-major
     * @throws IOException if a file cannot be read
     * @throws MalformedModelException if there is no such tensor or it has another shape
     */
    public float[] readFloats(String name, long[] expected) throws IOException, MalformedModelException {
        return file(name).readFloats(name, expected);
    }

    /**
     * Reads a tensor into a float32 array of the engine.
     *
     * @param manager the manager of the new array
     * @param name the tensor name
     * @return the array
     * @throws IOException if a file cannot be read
     * @throws MalformedModelException if there is no such tensor
     */
    public NDArray read(NDManager manager, String name) throws IOException, MalformedModelException {
        return file(name).read(manager, name);
    }

    private SafetensorsFile file(String name) throws MalformedModelException {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw new MalformedModelException(location + ": no tensor '" + name + "' (the checkpoint has " + byTensor.size() + ")");
        }
        return f;
    }

    /** Closes every file. */
    @Override
    public void close() throws IOException {
        List<IOException> errors = new ArrayList<>();
        for (SafetensorsFile f : files) {
            try {
                f.close();
            } catch (IOException e) {
                errors.add(e);
            }
        }
        if (!errors.isEmpty()) {
            throw errors.get(0);
        }
    }
}
