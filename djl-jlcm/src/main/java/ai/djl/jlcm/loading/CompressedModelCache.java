package ai.djl.jlcm.loading;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.jlcm.export.Digests;
import ai.djl.jlcm.export.DirectoryLock;
import ai.djl.jlcm.export.JlcmBlockFactory;
import ai.djl.jlcm.export.Manifest;
import ai.djl.jlcm.export.ModelDirectory;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;

/**
 * A directory of compressed model directories, one per float model and configuration. Each entry is
 * what {@link ModelExporter} writes (parameters, {@value Manifest#FILE_NAME} with the parameter
 * file's size and SHA-256, {@code serving.properties}); its {@code serving.properties} also records
 * the cache key ({@value #KEY_PROPERTY}) and what went into it ({@code jlcm.cache.*}).
 *
 * <p>An entry is used only if its recorded key equals the load's key, its manifest parses, its
 * parameter file has the manifest's size and SHA-256, and the parameters load into the block tree;
 * otherwise it is reported and rebuilt. Entries are written beside their place and renamed into
 * it, under a lock shared by the threads of this JVM and by other processes.
 */
final class CompressedModelCache {

    private static final Logger logger = LoggerFactory.getLogger(CompressedModelCache.class);

    /** The format of cache keys; a change makes every older entry stale. */
    static final String FORMAT = "1";

    /** The {@code serving.properties} key of an entry that records the SHA-256 of its cache key. */
    static final String KEY_PROPERTY = JlcmBlockFactory.CACHE_RECORD_PREFIX + "key";

    private final Path dir;
    private final String dirSource;

    CompressedModelCache(Path dir, String dirSource) {
        this.dir = dir.toAbsolutePath().normalize();
        this.dirSource = dirSource;
    }

    /**
     * Checks that a cache directory can be created and written.
     *
     * @param dir the directory
     * @param source where it was configured, for the message
     * @throws IOException naming the directory if not
     */
    static void checkWritable(Path dir, String source) throws IOException {
        try {
            Files.createDirectories(dir);
            Path probe = Files.createTempFile(dir, ".write-check-", ".tmp");
            Files.delete(probe);
        } catch (IOException | SecurityException e) {
            throw new IOException(
                    "Cannot write the JLCM cache directory "
                            + dir.toAbsolutePath()
                            + " ("
                            + source
                            + "): "
                            + e
                            + ". Set "
                            + LoadConfig.CACHE_DIR
                            + " to a writable directory, or "
                            + LoadConfig.CACHE_ENABLED
                            + "=false to compress on every load.",
                    e);
        }
    }

    /**
     * Returns the entry directory of a key.
     *
     * @param modelName the model name, for readable entry names
     * @param key the full cache key
     * @return the entry directory
     */
    Path entryFor(String modelName, String key) {
        String safe = modelName == null ? "model" : modelName.replaceAll("[^A-Za-z0-9._-]", "_");
        if (safe.length() > 64) {
            safe = safe.substring(0, 64);
        }
        if (safe.isEmpty() || safe.startsWith(".")) {
            safe = "model" + safe;
        }
        return dir.resolve(safe + "-" + Digests.sha256(key).substring(0, 20));
    }

    /**
     * Locks an entry against other loads in this JVM and in other processes.
     *
     * @param entry the entry
     * @return the lock, to close
     * @throws IOException if the lock file cannot be written
     */
    DirectoryLock lock(Path entry) throws IOException {
        try {
            return DirectoryLock.acquire(entry);
        } catch (IOException e) {
            throw new IOException("Cannot lock the JLCM cache entry " + entry + " (" + dirSource + "): " + e, e);
        }
    }

    /**
     * Reads an entry into a new block tree, or returns {@code null} (and says why) when the entry is
     * missing, stale or corrupt.
     *
     * @param entry the entry directory
     * @param key the full cache key
     * @param dense builds a new dense block tree
     * @param manager the model's manager
     * @param memoryMode what codebook blocks keep in memory
     * @return the loaded tree, or {@code null}
     * @throws IOException if the dense tree cannot be built
     */
    Block read(Path entry, String key, DenseTree dense, NDManager manager, MemoryMode memoryMode)
            throws IOException {
        ModelDirectory.recover(entry);
        if (!Files.isDirectory(entry)) {
            logger.info("No JLCM cache entry {}: compressing", entry);
            return null;
        }
        String expected = Digests.sha256(key);
        Properties record = new Properties();
        try (Reader r = Files.newBufferedReader(entry.resolve("serving.properties"), StandardCharsets.ISO_8859_1)) {
            record.load(r);
        } catch (IOException | IllegalArgumentException e) {
            return corrupt(entry, "serving.properties cannot be read: " + e);
        }
        String recorded = record.getProperty(KEY_PROPERTY);
        if (!expected.equals(recorded)) {
            logger.warn(
                    "Stale JLCM cache entry {}: it records key {}, this load needs {} (other float parameters,"
                            + " settings or library version); rebuilding it",
                    entry,
                    recorded,
                    expected);
            return null;
        }
        Manifest manifest;
        byte[] bytes;
        try {
            manifest = Manifest.read(entry.resolve(Manifest.FILE_NAME));
            Path params = entry.resolve(manifest.paramsFile()).normalize();
            if (!entry.equals(params.getParent())) {
                return corrupt(entry, "the manifest names a parameter file outside the entry: " + manifest.paramsFile());
            }
            bytes = Files.readAllBytes(params);
        } catch (IOException | MalformedModelException e) {
            return corrupt(entry, e.toString());
        }
        if (bytes.length != manifest.paramsBytes()) {
            return corrupt(
                    entry,
                    manifest.paramsFile() + " has " + bytes.length + " bytes, the manifest says " + manifest.paramsBytes());
        }
        String sha = Digests.sha256(bytes);
        if (!sha.equalsIgnoreCase(manifest.paramsSha256())) {
            return corrupt(
                    entry,
                    manifest.paramsFile() + " has SHA-256 " + sha + ", the manifest says " + manifest.paramsSha256());
        }
        Block tree = dense.newBlock();
        try {
            JlcmBlockFactory.withCodebookLayers(tree, manifest, memoryMode);
            DataInputStream dis = new DataInputStream(new ByteArrayInputStream(bytes));
            skipHeader(dis);
            tree.loadParameters(manager, dis);
            if (dis.read() != -1) {
                throw new MalformedModelException("bytes are left after the last parameter");
            }
            int layers = 0;
            for (Block b : BlockTree.of(tree).blocks().values()) {
                if (b instanceof CodebookBlock) {
                    layers++;
                }
            }
            if (layers != manifest.layers().size()) {
                throw new MalformedModelException(
                        layers + " codebook blocks were loaded, the manifest lists " + manifest.layers().size());
            }
            return tree;
        } catch (IOException | MalformedModelException | RuntimeException e) {
            for (Pair<String, Parameter> p : tree.getParameters()) {
                p.getValue().close();
            }
            return corrupt(entry, e.toString());
        }
    }

    /**
     * Writes an entry, replacing any entry in its place.
     *
     * @param entry the entry directory
     * @param key the full cache key
     * @param tree the compressed block tree
     * @param model the model being loaded
     * @param manager the model's manager
     * @param architectureFactory the architecture factory for the manifest, or {@code null} to
     *     describe the architecture in it
     * @param record what went into the key, written as {@code jlcm.cache.*}
     * @throws IOException naming the entry if writing fails
     */
    void write(
            Path entry,
            String key,
            Block tree,
            Model model,
            NDManager manager,
            String architectureFactory,
            Map<String, String> record)
            throws IOException {
        ModelExporter.Builder exporter =
                ModelExporter.builder().optModelName(model.getName()).optOverwrite(true);
        if (architectureFactory != null) {
            exporter.optArchitectureFactory(architectureFactory);
        }
        exporter.optServingProperty(KEY_PROPERTY, Digests.sha256(key));
        record.forEach((k, v) -> exporter.optServingProperty(JlcmBlockFactory.CACHE_RECORD_PREFIX + k, v));
        try {
            try {
                tree.describeInput();
            } catch (IllegalArgumentException e) {
                // parameters read from a file restore input shapes but not input names
                tree.initialize(manager, model.getDataType(), tree.getInputShapes());
            }
            String engine = manager.getEngine().getEngineName();
            try (Model holder = Model.newInstance(model.getName(), manager.getDevice(), engine)) {
                holder.setBlock(tree);
                exporter.build().export(holder, entry);
            }
        } catch (IOException | RuntimeException e) {
            throw new IOException(
                    "Cannot write the JLCM cache entry " + entry + " (" + dirSource + "): " + e, e);
        }
    }

    private static Block corrupt(Path entry, String why) {
        logger.warn("Corrupt JLCM cache entry {}: {}; rebuilding it", entry, why);
        return null;
    }

    /** Skips the header of a DJL parameter file ({@code BaseModel.save}, version 1). */
    static void skipHeader(DataInputStream dis) throws IOException, MalformedModelException {
        byte[] magic = new byte[4];
        dis.readFully(magic);
        if (!"DJL@".equals(new String(magic, StandardCharsets.US_ASCII))) {
            throw new MalformedModelException("not a DJL parameter file");
        }
        int version = dis.readInt();
        if (version != 1) {
            throw new MalformedModelException("unsupported DJL parameter file version " + version);
        }
        dis.readUTF(); // model name
        dis.readUTF(); // data type
        int inputs = dis.readInt();
        if (inputs < 0 || inputs > 4096) {
            throw new MalformedModelException("bad input count " + inputs);
        }
        for (int i = 0; i < inputs; i++) {
            dis.readUTF();
            Shape.decode(dis);
        }
        int properties = dis.readInt();
        if (properties < 0 || properties > 1 << 20) {
            throw new MalformedModelException("bad property count " + properties);
        }
        for (int i = 0; i < properties; i++) {
            dis.readUTF();
            dis.readUTF();
        }
    }

    /** Builds a new dense block tree. */
    @FunctionalInterface
    interface DenseTree {
        Block newBlock() throws IOException;
    }
}
