package ai.djl.jlcm.export;

import ai.djl.MalformedModelException;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.ndarray.types.Shape;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.internal.LazilyParsedNumber;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

    /** The manifest format this code writes: format 1 plus the manifest's own checksum. */
    public static final int FORMAT = 2;

    /** The field that holds the SHA-256 of the manifest text (with this field's value zeroed). */
    static final String CHECKSUM_FIELD = "manifestSha256";

    private static final Logger logger = LoggerFactory.getLogger(Manifest.class);

    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();
    private static final String ZEROS = "0".repeat(64);
    private static final int MAX_DEPTH = 64;
    private static final Set<String> FIELDS =
            Set.of(
                    "format",
                    "modelName",
                    "paramsFile",
                    "paramsSha256",
                    "paramsBytes",
                    "architecture",
                    "architectureFactory",
                    "layers",
                    CHECKSUM_FIELD);
    private static final Set<String> LAYER_FIELDS =
            Set.of("path", "type", "shape", "bits", "vectorLength", "groups", "mode", "bias");
    private static final Pattern PLAIN_NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]*");
    private static final Pattern HEX64 = Pattern.compile("[0-9a-fA-F]{64}");

    /**
     * A codebook layer.
     *
     * @param path its path in the block tree
     * @param type "linear" or "convolution"
     * @param shape the dense weight shape
     * @param bits the index width
     * @param vectorLength the weights per codeword (written only when above 1)
     * @param groups the neuron groups
     * @param mode the codebook mode
     * @param bias whether it has a bias
     */
    public record Layer(
            String path,
            String type,
            Shape shape,
            int bits,
            int vectorLength,
            int groups,
            CodebookMode mode,
            boolean bias) {}

    /**
     * Writes the manifest, with its checksum.
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
            if (l.vectorLength != 1) {
                j.addProperty("vectorLength", l.vectorLength);
            }
            j.addProperty("groups", l.groups);
            j.addProperty("mode", l.mode.name());
            j.addProperty("bias", l.bias);
            arr.add(j);
        }
        o.add("layers", arr);
        o.addProperty(CHECKSUM_FIELD, ZEROS);
        String zeroed = GSON.toJson(o);
        String marker = checksumMarker(ZEROS);
        int at = zeroed.lastIndexOf(marker);
        String text =
                zeroed.substring(0, at)
                        + checksumMarker(Digests.sha256(zeroed))
                        + zeroed.substring(at + marker.length());
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }

    private static String checksumMarker(String value) {
        return "\"" + CHECKSUM_FIELD + "\": \"" + value + "\"";
    }

    /**
     * Reads and validates a manifest.
     *
     * @param file the file
     * @return the manifest
     * @throws IOException if the file cannot be read
     * @throws MalformedModelException naming the file and the field if the content is not a valid
     *     manifest, or was changed after it was written
     */
    public static Manifest read(Path file) throws IOException, MalformedModelException {
        byte[] bytes = Files.readAllBytes(file);
        return parse(bytes, file.toString());
    }

    /**
     * Parses and validates a manifest's bytes.
     *
     * @param bytes the file content
     * @param source the file name, for messages
     * @return the manifest
     * @throws MalformedModelException naming the source and the field if the content is not a valid
     *     manifest, or was changed after it was written
     */
    public static Manifest parse(byte[] bytes, String source) throws MalformedModelException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new MalformedModelException(source + ": malformed manifest (not UTF-8 text)", e);
        }
        JsonElement root;
        try (JsonReader reader = new JsonReader(new StringReader(text))) {
            reader.setStrictness(Strictness.STRICT);
            root = value(reader, "", 0, source);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new MalformedModelException(source + ": malformed manifest (text after the JSON object)");
            }
        } catch (IOException | JsonParseException | IllegalStateException | NumberFormatException e) {
            Matcher at = Pattern.compile("line \\d+ column \\d+").matcher(String.valueOf(e.getMessage()));
            String where = at.find() ? " at " + at.group() : "";
            throw new MalformedModelException(source + ": malformed manifest (not valid JSON" + where + ")", e);
        }
        Fields f = new Fields(source);
        JsonObject o = f.object(root, "the manifest");
        f.only(o, FIELDS, "");
        int format = (int) f.integer(o, "format", "", 1, FORMAT);
        if (format >= 2) {
            checkChecksum(text, f.string(o, CHECKSUM_FIELD, ""), source);
        } else {
            if (o.has(CHECKSUM_FIELD)) {
                throw new MalformedModelException(source + ": format 1 has no field '" + CHECKSUM_FIELD + "'");
            }
            logger.warn("{}: a format 1 manifest has no checksum; export the model again to get one", source);
        }
        String modelName = f.string(o, "modelName", "");
        if (!PLAIN_NAME.matcher(modelName).matches()) {
            throw new MalformedModelException(source + ": 'modelName' must be a plain name, got '" + modelName + "'");
        }
        String paramsFile = f.string(o, "paramsFile", "");
        if (!paramsFile.matches(Pattern.quote(modelName) + "-\\d{4}\\.params")) {
            throw new MalformedModelException(
                    source + ": 'paramsFile' must be a file name " + modelName + "-NNNN.params in the model directory, got '"
                            + paramsFile + "'");
        }
        String sha = f.string(o, "paramsSha256", "");
        if (!HEX64.matcher(sha).matches()) {
            throw new MalformedModelException(source + ": 'paramsSha256' must be 64 hex digits, got '" + sha + "'");
        }
        long paramsBytes = f.integer(o, "paramsBytes", "", 0, Long.MAX_VALUE);
        JsonObject architecture = o.has("architecture") ? f.object(o.get("architecture"), "'architecture'") : null;
        String factory = o.has("architectureFactory") ? f.string(o, "architectureFactory", "") : null;
        if ((architecture == null) == (factory == null)) {
            throw new MalformedModelException(
                    source + ": exactly one of 'architecture' and 'architectureFactory' must be given");
        }
        if (!o.has("layers") || !o.get("layers").isJsonArray()) {
            throw new MalformedModelException(source + ": field 'layers' must be an array");
        }
        List<Layer> layers = new ArrayList<>();
        Set<String> paths = new HashSet<>();
        JsonArray array = o.getAsJsonArray("layers");
        for (int i = 0; i < array.size(); i++) {
            String where = "layers[" + i + "].";
            JsonObject j = f.object(array.get(i), "'layers[" + i + "]'");
            f.only(j, LAYER_FIELDS, where);
            String path = f.string(j, "path", where);
            if (!paths.add(path)) {
                throw new MalformedModelException(source + ": layer '" + path + "' is listed twice");
            }
            String type = f.string(j, "type", where);
            if (!type.equals("linear") && !type.equals("convolution")) {
                throw new MalformedModelException(
                        source + ": '" + where + "type' must be linear or convolution, got '" + type + "'");
            }
            if (!j.has("shape") || !j.get("shape").isJsonArray()) {
                throw new MalformedModelException(source + ": field '" + where + "shape' must be an array");
            }
            JsonArray dims = j.getAsJsonArray("shape");
            int rank = dims.size();
            if (type.equals("linear") ? rank != 2 : rank < 3 || rank > 5) {
                throw new MalformedModelException(
                        source + ": '" + where + "shape' of a " + type + " layer cannot have " + rank + " dimensions");
            }
            long[] shape = new long[rank];
            long size = 1;
            for (int d = 0; d < rank; d++) {
                shape[d] = f.integer(dims.get(d), where + "shape[" + d + "]", 1, Integer.MAX_VALUE);
                size *= shape[d]; // at most (2^31 - 1)^2 before the check below
                if (size > Integer.MAX_VALUE) {
                    throw new MalformedModelException(
                            source + ": '" + where + "shape' " + dims + " has more than " + Integer.MAX_VALUE
                                    + " weights, more than one array holds");
                }
            }
            int bits = (int) f.integer(j, "bits", where, CompressedWeight.MIN_BITS, CompressedWeight.MAX_BITS);
            int vectorLength =
                    j.has("vectorLength")
                            ? (int) f.integer(j, "vectorLength", where, 1, CompressedWeight.MAX_VECTOR_LENGTH)
                            : 1;
            if (size / shape[0] % vectorLength != 0) {
                throw new MalformedModelException(
                        source + ": '" + where + "vectorLength' " + vectorLength + " does not divide the "
                                + size / shape[0] + " weights of a row");
            }
            int groups = (int) f.integer(j, "groups", where, 1, shape[0]);
            String mode = f.string(j, "mode", where);
            CodebookMode codebookMode;
            try {
                codebookMode = CodebookMode.valueOf(mode);
            } catch (IllegalArgumentException e) {
                throw new MalformedModelException(
                        source + ": '" + where + "mode' must be one of " + java.util.Arrays.toString(CodebookMode.values())
                                + ", got '" + mode + "'");
            }
            layers.add(new Layer(path, type, new Shape(shape), bits, vectorLength, groups, codebookMode, f.bool(j, "bias", where)));
        }
        return new Manifest(modelName, paramsFile, sha, paramsBytes, architecture, factory, layers);
    }

    private static void checkChecksum(String text, String recorded, String source) throws MalformedModelException {
        if (!HEX64.matcher(recorded).matches()) {
            throw new MalformedModelException(
                    source + ": '" + CHECKSUM_FIELD + "' must be 64 hex digits, got '" + recorded + "'");
        }
        String marker = checksumMarker(recorded);
        int at = text.indexOf(marker);
        if (at < 0 || text.indexOf(marker, at + 1) >= 0) {
            throw new MalformedModelException(
                    source + ": the manifest was changed after it was written (its checksum field was reformatted)");
        }
        String zeroed = text.substring(0, at) + checksumMarker(ZEROS) + text.substring(at + marker.length());
        String actual = Digests.sha256(zeroed);
        if (!actual.equalsIgnoreCase(recorded)) {
            throw new MalformedModelException(
                    source + ": the manifest was changed after it was written: its SHA-256 is " + actual
                            + ", it records " + recorded + " (export the model again rather than edit the manifest)");
        }
    }

    /** Reads a JSON value, refusing duplicate keys and deep nesting. */
    private static JsonElement value(JsonReader r, String path, int depth, String source)
            throws IOException, MalformedModelException {
        if (depth > MAX_DEPTH) {
            throw new MalformedModelException(source + ": malformed manifest (nested deeper than " + MAX_DEPTH + ")");
        }
        switch (r.peek()) {
            case BEGIN_OBJECT:
                JsonObject o = new JsonObject();
                r.beginObject();
                while (r.hasNext()) {
                    String key = r.nextName();
                    if (o.has(key)) {
                        throw new MalformedModelException(source + ": field '" + path + key + "' is given twice");
                    }
                    o.add(key, value(r, path + key + ".", depth + 1, source));
                }
                r.endObject();
                return o;
            case BEGIN_ARRAY:
                JsonArray a = new JsonArray();
                r.beginArray();
                while (r.hasNext()) {
                    a.add(value(r, path, depth + 1, source));
                }
                r.endArray();
                return a;
            case STRING:
                return new JsonPrimitive(r.nextString());
            case NUMBER:
                return new JsonPrimitive(new LazilyParsedNumber(r.nextString()));
            case BOOLEAN:
                return new JsonPrimitive(r.nextBoolean());
            case NULL:
                r.nextNull();
                return JsonNull.INSTANCE;
            default:
                throw new MalformedModelException(source + ": malformed manifest (unexpected " + r.peek() + ")");
        }
    }

    /** Typed field access with messages that name the file and the field. */
    private static final class Fields {
        private final String source;

        Fields(String source) {
            this.source = source;
        }

        JsonObject object(JsonElement e, String what) throws MalformedModelException {
            if (e == null || !e.isJsonObject()) {
                throw new MalformedModelException(source + ": " + what + " must be a JSON object");
            }
            return e.getAsJsonObject();
        }

        void only(JsonObject o, Set<String> allowed, String where) throws MalformedModelException {
            for (String key : o.keySet()) {
                if (!allowed.contains(key)) {
                    throw new MalformedModelException(source + ": unknown field '" + where + key + "'");
                }
            }
        }

        private JsonElement required(JsonObject o, String field, String where) throws MalformedModelException {
            JsonElement e = o.get(field);
            if (e == null || e.isJsonNull()) {
                throw new MalformedModelException(source + ": field '" + where + field + "' is missing");
            }
            return e;
        }

        String string(JsonObject o, String field, String where) throws MalformedModelException {
            JsonElement e = required(o, field, where);
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
                throw new MalformedModelException(source + ": field '" + where + field + "' must be a string, got " + e);
            }
            return e.getAsString();
        }

        boolean bool(JsonObject o, String field, String where) throws MalformedModelException {
            JsonElement e = required(o, field, where);
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
                throw new MalformedModelException(source + ": field '" + where + field + "' must be true or false, got " + e);
            }
            return e.getAsBoolean();
        }

        long integer(JsonObject o, String field, String where, long min, long max) throws MalformedModelException {
            return integer(required(o, field, where), where + field, min, max);
        }

        long integer(JsonElement e, String name, long min, long max) throws MalformedModelException {
            String text = e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber() ? e.getAsString() : null;
            if (text == null || !text.matches("-?\\d{1,19}")) {
                throw new MalformedModelException(
                        source + ": field '" + name + "' must be an integer in [" + min + ", " + max + "], got " + e);
            }
            long v;
            try {
                v = Long.parseLong(text);
            } catch (NumberFormatException ex) {
                v = text.startsWith("-") ? Long.MIN_VALUE : Long.MAX_VALUE;
            }
            if (v < min || v > max) {
                throw new MalformedModelException(
                        source + ": field '" + name + "' must be an integer in [" + min + ", " + max + "], got " + e);
            }
            return v;
        }
    }
}
