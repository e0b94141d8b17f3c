package ai.djl.jlcm.learn;

import ai.djl.MalformedModelException;
import ai.djl.jlcm.export.Digests;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.jlcm.transform.Replacements;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;

import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntConsumer;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The stage-level checkpoint of a calibrated compression in a work directory. After each finished
 * stage it writes that stage's compressed layers ({@code stage-NNN.params}, the codebook blocks'
 * parameter records in network order) and the two activation streams at the stage's end ({@code
 * streams-NNN.bin}, X̃ and X with their side inputs), then the manifest {@code jlcm-checkpoint.json}
 * last, through a temporary file and an atomic rename: a process killed at any instant leaves the
 * previous complete checkpoint. The manifest holds the run's identity (plan, stages, work items,
 * SHA-256 of the calibration inputs and of the float parameters), the finished stage count, their
 * reports and the SHA-256 of each file; a run of another identity is refused.
 */
final class StageCheckpoint {

    /** The manifest's file name. */
    static final String MANIFEST = "jlcm-checkpoint.json";

    /** Called with a stage's index once its checkpoint is complete (a test seam). */
    static volatile IntConsumer afterWrite = s -> {};

    private static final int FORMAT = 1;
    private static final Pattern OURS = Pattern.compile("(\\.)?(jlcm-checkpoint\\.json|stage-\\d{3}\\.params|streams-\\d{3}\\.bin)(\\.tmp)?");
    private static final Gson GSON = new GsonBuilder().serializeSpecialFloatingPointValues().setPrettyPrinting().create();

    private final Path dir;
    private final JsonObject identity;
    private int finished;
    private final JsonArray layers;
    private final JsonArray stages;
    private final JsonObject files;

    private StageCheckpoint(Path dir, JsonObject identity, int finished, JsonArray layers, JsonArray stages, JsonObject files) {
        this.dir = dir;
        this.identity = identity;
        this.finished = finished;
        this.layers = layers;
        this.stages = stages;
        this.files = files;
    }

    /**
     * Opens the checkpoint in a work directory: an absent or empty directory (or one holding only
     * files of a checkpoint never completed) starts a new one; a complete one is resumed if it is of
     * the same run.
     *
     * @param dir the work directory
     * @param identity what makes two runs the same
     * @return the checkpoint
     * @throws IOException if the directory holds anything else, or a checkpoint of another run
     */
    static StageCheckpoint open(Path dir, JsonObject identity) throws IOException {
        Files.createDirectories(dir);
        List<String> foreign = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.map(p -> p.getFileName().toString()).filter(n -> !OURS.matcher(n).matches()).sorted().forEach(foreign::add);
        }
        if (!foreign.isEmpty()) {
            throw new IOException(
                    "Work directory " + dir + " holds entries that are not a djl-jlcm checkpoint: "
                            + String.join(", ", foreign) + "; use an empty or new directory");
        }
        Path manifest = dir.resolve(MANIFEST);
        if (!Files.exists(manifest)) {
            return new StageCheckpoint(dir, identity, 0, new JsonArray(), new JsonArray(), new JsonObject());
        }
        JsonObject m;
        try {
            m = GSON.fromJson(Files.readString(manifest, StandardCharsets.UTF_8), JsonObject.class);
        } catch (JsonParseException e) {
            throw new IOException(manifest + " is not a checkpoint manifest: " + e.getMessage(), e);
        }
        if (m == null || !m.has("format") || m.get("format").getAsInt() != FORMAT) {
            throw new IOException(manifest + ": unsupported checkpoint format");
        }
        JsonObject stored = m.getAsJsonObject("identity");
        for (String key : identity.keySet()) {
            if (!identity.get(key).equals(stored.get(key))) {
                throw new IOException(
                        "Work directory " + dir + " holds the checkpoint of another run: its " + key
                                + " differs from this run's; use another work directory or delete this one");
            }
        }
        return new StageCheckpoint(
                dir,
                identity,
                m.get("finished").getAsInt(),
                m.getAsJsonArray("layers"),
                m.getAsJsonArray("stages"),
                m.getAsJsonObject("files"));
    }

    /**
     * Returns whether a work directory holds the checkpoint of a finished run that kept no float
     * outputs ({@link SequentialCompressor#keepFloatOutputs}): whatever run reads it next resumes
     * with nothing left to run, or is refused as another run's.
     *
     * @param dir the work directory
     * @return whether it does; false for an absent directory, an absent manifest, or one that
     *     {@link #open} will refuse with its own reason
     * @throws IOException if the manifest cannot be read
     */
    static boolean finishedWithoutOutputs(Path dir) throws IOException {
        Path manifest = dir.resolve(MANIFEST);
        if (!Files.isRegularFile(manifest)) {
            return false;
        }
        JsonObject m;
        try {
            m = GSON.fromJson(Files.readString(manifest, StandardCharsets.UTF_8), JsonObject.class);
        } catch (JsonParseException e) {
            return false;
        }
        if (m == null || !m.has("finished") || !m.has("files") || !m.has("identity")
                || !m.getAsJsonObject("identity").has("stages")) {
            return false;
        }
        int finished = m.get("finished").getAsInt();
        int total = m.getAsJsonObject("identity").getAsJsonArray("stages").size();
        return finished > 0 && finished == total && !m.getAsJsonObject("files").has(streamsFile(finished - 1));
    }

    /**
     * Returns the identity of a run, the part of the manifest that must match to resume.
     *
     * @param plan the plan's canonical text
     * @param stageNames the stages' names
     * @param work the work items ("layer:PATH", "unit:PATH") of each stage
     * @param calibration the calibration inputs
     * @param floatDigest the SHA-256 of the float parameters
     * @return the identity
     */
    static JsonObject identity(String plan, List<String> stageNames, List<List<String>> work, List<NDList> calibration, String floatDigest) {
        JsonObject id = new JsonObject();
        id.addProperty("plan", plan);
        id.add("stages", GSON.toJsonTree(stageNames));
        id.add("work", GSON.toJsonTree(work));
        MessageDigest md = Digests.newSha256();
        for (NDList batch : calibration) {
            md.update(batch.encode());
        }
        id.addProperty("calibration_sha256", Digests.hex(md.digest()));
        id.addProperty("float_sha256", floatDigest);
        return id;
    }

    /**
     * Returns how many stages are finished.
     *
     * @return the count
     */
    int finished() {
        return finished;
    }

    /**
     * Returns the reports of the finished stages' layers.
     *
     * @return the reports, in network order
     */
    List<LayerReport> layerReports() {
        List<LayerReport> out = new ArrayList<>();
        for (JsonElement e : layers) {
            JsonObject o = e.getAsJsonObject();
            long[] shape = GSON.fromJson(o.get("shape"), long[].class);
            out.add(
                    new LayerReport(
                            o.get("path").getAsString(), o.get("type").getAsString(), new Shape(shape),
                            o.get("bits").getAsInt(), o.has("vectorLength") ? o.get("vectorLength").getAsInt() : 1,
                            o.get("groups").getAsInt(), CodebookMode.valueOf(o.get("mode").getAsString()),
                            o.get("storedBits").getAsLong(), o.get("initError").getAsDouble(), o.get("learnedError").getAsDouble(),
                            o.get("codewordUsage").getAsDouble(), o.get("bestStep").getAsInt(), o.get("seconds").getAsDouble()));
        }
        return out;
    }

    /**
     * Returns the reports of the finished stages.
     *
     * @return the reports, in order
     */
    List<StageReport> stageReports() {
        List<StageReport> out = new ArrayList<>();
        for (JsonElement e : stages) {
            out.add(GSON.fromJson(e, StageReport.class));
        }
        return out;
    }

    /**
     * Puts a finished stage's compressed layers into the tree, each in place of its float layer, and
     * records the float originals.
     *
     * @param stage the stage's index
     * @param root the model's root
     * @param paths the stage's compressed layer paths, in network order
     * @param floatOf receives each codebook block's float original
     * @throws IOException if the file is missing, altered or malformed
     */
    void restoreStage(int stage, Block root, List<String> paths, Map<Block, Block> floatOf) throws IOException {
        Map<String, LayerReport> byPath = new HashMap<>();
        layerReports().forEach(l -> byPath.put(l.path(), l));
        try (DataInputStream is = new DataInputStream(new ByteArrayInputStream(read(stageFile(stage))))) {
            for (String path : paths) {
                Block layer = BlockTree.of(root).get(path);
                LayerReport l = byPath.get(path);
                if (l == null) {
                    throw new IOException(dir.resolve(MANIFEST) + " has no report of layer " + path);
                }
                Block replacement =
                        Replacements.codebookBlock(
                                layer, new CodebookWeight(l.shape(), l.bits(), l.vectorLength(), l.mode(), l.groups()), path, MemoryMode.PACKED);
                NDManager manager = layer.getDirectParameters().get("weight").getArray().getManager();
                replacement.loadParameters(manager, is);
                SequentialCompressor.place(root, path, layer, replacement);
                floatOf.put(replacement, layer);
            }
        } catch (MalformedModelException e) {
            throw new IOException(stageFile(stage) + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads the two streams at the end of the last finished stage.
     *
     * @param manager the manager of the arrays
     * @return the compressed stream and the float one (the same list where they had not parted)
     * @throws IOException if the file is missing, altered or malformed
     */
    List<List<NDList>> restoreStreams(NDManager manager) throws IOException {
        try (DataInputStream is = new DataInputStream(new ByteArrayInputStream(read(streamsFile(finished - 1))))) {
            boolean same = is.readBoolean();
            List<NDList> compressed = readStream(is, manager);
            return List.of(compressed, same ? compressed : readStream(is, manager));
        }
    }

    /**
     * Reads the float outputs kept after the last stage ({@link
     * SequentialCompressor#keepFloatOutputs}) of a finished run.
     *
     * @param manager the manager of the arrays
     * @return one output per calibration batch, or null if the run kept none
     * @throws IOException if the file is altered or malformed
     */
    List<NDList> restoreOutputs(NDManager manager) throws IOException {
        if (!files.has(streamsFile(finished - 1))) {
            return null;
        }
        return restoreStreams(manager).get(0);
    }

    /**
     * Writes a finished stage: its compressed layers, the streams at its end (after the last stage,
     * the float outputs if they are kept, else none), then the manifest, which makes the stage count
     * as finished.
     *
     * @param stage the stage's index
     * @param root the model's root
     * @param stageLayers the stage's layer reports, in network order
     * @param report the stage's report
     * @param compressed the compressed stream at the stage's end, or null for none
     * @param floats the float stream at the stage's end, or null for none
     * @throws IOException if writing fails
     */
    void write(int stage, Block root, List<LayerReport> stageLayers, StageReport report, List<NDList> compressed, List<NDList> floats)
            throws IOException {
        BlockTree tree = BlockTree.of(root);
        files.addProperty(stageFile(stage), writeFile(stageFile(stage), os -> {
            for (LayerReport l : stageLayers) {
                tree.get(l.path()).saveParameters(os);
            }
        }));
        String previous = stage > 0 ? streamsFile(stage - 1) : null;
        if (compressed != null) {
            files.addProperty(streamsFile(stage), writeFile(streamsFile(stage), os -> {
                boolean same = compressed == floats;
                os.writeBoolean(same);
                writeStream(os, compressed);
                if (!same) {
                    writeStream(os, floats);
                }
            }));
        }
        for (LayerReport l : stageLayers) {
            layers.add(layerJson(l));
        }
        stages.add(GSON.toJsonTree(report));
        if (previous != null) {
            files.remove(previous);
        }
        finished = stage + 1;
        JsonObject m = new JsonObject();
        m.addProperty("format", FORMAT);
        m.add("identity", identity);
        m.addProperty("finished", finished);
        m.add("layers", layers);
        m.add("stages", stages);
        m.add("files", files);
        byte[] text = GSON.toJson(m).getBytes(StandardCharsets.UTF_8);
        writeFile(MANIFEST, os -> os.write(text));
        if (previous != null) {
            Files.deleteIfExists(dir.resolve(previous));
        }
        afterWrite.accept(stage);
    }

    private static JsonObject layerJson(LayerReport l) {
        JsonObject o = GSON.toJsonTree(l).getAsJsonObject();
        o.add("shape", GSON.toJsonTree(l.shape().getShape()));
        o.addProperty("mode", l.mode().name());
        return o;
    }

    private static String stageFile(int stage) {
        return String.format(Locale.ROOT, "stage-%03d.params", stage);
    }

    private static String streamsFile(int stage) {
        return String.format(Locale.ROOT, "streams-%03d.bin", stage);
    }

    private static void writeStream(DataOutputStream os, List<NDList> stream) throws IOException {
        os.writeInt(stream.size());
        for (NDList batch : stream) {
            byte[] b = batch.encode();
            os.writeInt(b.length);
            os.write(b);
        }
    }

    private static List<NDList> readStream(DataInputStream is, NDManager manager) throws IOException {
        int n = is.readInt();
        List<NDList> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            byte[] b = new byte[is.readInt()];
            is.readFully(b);
            out.add(NDList.decode(manager, b));
        }
        return out;
    }

    /** Reads a file the manifest lists, checked against its SHA-256. */
    private byte[] read(String name) throws IOException {
        Path file = dir.resolve(name);
        if (!files.has(name) || !Files.isRegularFile(file)) {
            throw new IOException("Checkpoint file " + file + " is missing");
        }
        byte[] bytes = Files.readAllBytes(file);
        if (!Digests.sha256(bytes).equals(files.get(name).getAsString())) {
            throw new IOException("Checkpoint file " + file + " is altered: its SHA-256 differs from the manifest's");
        }
        return bytes;
    }

    /** What writes a file's contents. */
    @FunctionalInterface
    private interface Contents {
        void write(DataOutputStream os) throws IOException;
    }

    /** Writes a file through a temporary one, synced, and an atomic rename; returns its SHA-256. */
    private String writeFile(String name, Contents contents) throws IOException {
        Path tmp = dir.resolve("." + name + ".tmp");
        MessageDigest md = Digests.newSha256();
        try (OutputStream out = Files.newOutputStream(tmp);
                DataOutputStream os = new DataOutputStream(new BufferedOutputStream(new DigestOutputStream(out, md), 1 << 16))) {
            contents.write(os);
        }
        try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            c.force(true);
        }
        Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return Digests.hex(md.digest());
    }
}
