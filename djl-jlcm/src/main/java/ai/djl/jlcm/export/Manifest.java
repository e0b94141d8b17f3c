package ai.djl.jlcm.export;

import ai.djl.MalformedModelException;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.ndarray.types.Shape;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The sidecar file {@value #FILE_NAME} of a compressed model directory: the parameter file and its
 * checksum, how to build the dense block tree, and which layers are codebook blocks.
 *
 * @param modelName the model name ({@code <modelName>-0000.params})
 * @param paramsFile the parameter file name
 * @param paramsSha256 the parameter file's SHA-256, hex
 * @param paramsBytes the parameter file's size
 * @param architecture the dense block tree ({@link ArchitectureCodec}), or {@code null}
 * @param architectureFactory the class name of a {@code BlockFactory} building the dense tree, or
 *     {@code null}
 * @param layers the codebook layers
 */
public record Manifest(
        String modelName,
        String paramsFile,
        String paramsSha256,
        long paramsBytes,
        JsonObject architecture,
        String architectureFactory,
        List<Layer> layers) {

    /** The manifest's file name in a model directory. */
    public static final String FILE_NAME = "jlcm.json";

    /** The manifest format version this code writes and reads. */
    public static final int FORMAT = 1;

    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

    /**
     * A codebook layer.
     *
     * @param path its path in the block tree
     * @param type "linear" or "convolution"
     * @param shape the dense weight shape
     * @param bits the index width
     * @param groups the neuron groups
     * @param mode the codebook mode
     * @param bias whether it has a bias
     */
    public record Layer(
            String path,
            String type,
            Shape shape,
            int bits,
            int groups,
            CodebookMode mode,
            boolean bias) {}

    /**
     * Writes the manifest.
     *
     * @param file the file
     * @throws IOException if writing fails
     */
    public void write(Path file) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("format", FORMAT);
        o.addProperty("modelName", modelName);
        o.addProperty("paramsFile", paramsFile);
        o.addProperty("paramsSha256", paramsSha256);
        o.addProperty("paramsBytes", paramsBytes);
        if (architecture != null) {
            o.add("architecture", architecture);
        }
        if (architectureFactory != null) {
            o.addProperty("architectureFactory", architectureFactory);
        }
        JsonArray arr = new JsonArray();
        for (Layer l : layers) {
            JsonObject j = new JsonObject();
            j.addProperty("path", l.path);
            j.addProperty("type", l.type);
            JsonArray shape = new JsonArray();
            for (long d : l.shape.getShape()) {
                shape.add(d);
            }
            j.add("shape", shape);
            j.addProperty("bits", l.bits);
            j.addProperty("groups", l.groups);
            j.addProperty("mode", l.mode.name());
            j.addProperty("bias", l.bias);
            arr.add(j);
        }
        o.add("layers", arr);
        Files.writeString(file, GSON.toJson(o), StandardCharsets.UTF_8);
    }

    /**
     * Reads and validates a manifest.
     *
     * @param file the file
     * @return the manifest
     * @throws IOException if the file cannot be read
     * @throws MalformedModelException if the content is not a valid manifest
     */
    public static Manifest read(Path file) throws IOException, MalformedModelException {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        try {
            JsonObject o = JsonParser.parseString(text).getAsJsonObject();
            int format = o.get("format").getAsInt();
            if (format != FORMAT) {
                throw new MalformedModelException(
                        file + ": unsupported manifest format " + format + " (this code reads " + FORMAT + ")");
            }
            List<Layer> layers = new ArrayList<>();
            for (JsonElement e : o.getAsJsonArray("layers")) {
                JsonObject j = e.getAsJsonObject();
                JsonArray s = j.getAsJsonArray("shape");
                long[] dims = new long[s.size()];
                for (int i = 0; i < dims.length; i++) {
                    dims[i] = s.get(i).getAsLong();
                }
                layers.add(
                        new Layer(
                                j.get("path").getAsString(),
                                j.get("type").getAsString(),
                                new Shape(dims),
                                j.get("bits").getAsInt(),
                                j.get("groups").getAsInt(),
                                CodebookMode.valueOf(j.get("mode").getAsString()),
                                j.get("bias").getAsBoolean()));
            }
            JsonElement arch = o.get("architecture");
            JsonElement factory = o.get("architectureFactory");
            if (arch == null && factory == null) {
                throw new MalformedModelException(
                        file + ": neither 'architecture' nor 'architectureFactory' is given");
            }
            return new Manifest(
                    o.get("modelName").getAsString(),
                    o.get("paramsFile").getAsString(),
                    o.get("paramsSha256").getAsString(),
                    o.get("paramsBytes").getAsLong(),
                    arch == null ? null : arch.getAsJsonObject(),
                    factory == null ? null : factory.getAsString(),
                    layers);
        } catch (JsonParseException | IllegalStateException | NullPointerException
                | UnsupportedOperationException | IllegalArgumentException e) {
            throw new MalformedModelException(file + ": malformed manifest (" + e + ")", e);
        }
    }
}
