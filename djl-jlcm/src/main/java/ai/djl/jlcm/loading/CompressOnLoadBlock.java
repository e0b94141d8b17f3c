package ai.djl.jlcm.loading;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.export.ArchitectureCodec;
import ai.djl.jlcm.export.Digests;
import ai.djl.jlcm.export.DirectoryLock;
import ai.djl.jlcm.loading.CompressingBlockFactory.FloatSource;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The block DJL holds between {@link CompressingBlockFactory#newBlock} and the end of parameter
 * loading. Its {@link #loadParameters} reads the float parameters into the float tree, compresses
 * it (or reads the cached compressed model) and makes the compressed tree the model's block, so
 * this stand-in never stays in a loaded model.
 */
final class CompressOnLoadBlock extends AbstractBlock {

    private static final Logger logger = LoggerFactory.getLogger(CompressOnLoadBlock.class);

    private final Model model;
    private final Block dense;
    private final FloatSource source;
    private final LoadConfig config;
    private final Iterable<NDList> calibration;
    private final Path calibrationFile;

    CompressOnLoadBlock(
            Model model,
            Block dense,
            FloatSource source,
            LoadConfig config,
            Iterable<NDList> calibration,
            Path calibrationFile) {
        this.model = model;
        this.dense = dense;
        this.source = source;
        this.config = config;
        this.calibration = calibration;
        this.calibrationFile = calibrationFile;
    }

    /** {@inheritDoc} */
    @Override
    public void loadParameters(NDManager manager, DataInputStream is)
            throws IOException, MalformedModelException {
        try {
            load(manager, is);
        } catch (IOException | MalformedModelException | RuntimeException | Error e) {
            // DJL drops a model that fails to load without closing it: free the float parameters now
            model.close();
            throw e;
        }
    }

    @SuppressWarnings("try")
    private void load(NDManager manager, DataInputStream is) throws IOException, MalformedModelException {
        long start = System.nanoTime();
        Block result;
        String how;
        if (!config.cacheEnabled) {
            dense.loadParameters(manager, is);
            checkSelection();
            compress(dense, manager);
            result = dense;
            how = "compressed (cache off)";
        } else {
            CompressedModelCache cache = new CompressedModelCache(config.cacheDir, config.cacheDirSource);
            // the float parameters become arrays only on a cache miss
            try (FloatSpool spool = FloatSpool.of(is, config.cacheDir)) {
                Map<String, String> record = keyRecord(spool.sha256());
                String key = keyText(record);
                Path entry = cache.entryFor(model.getName(), key);
                try (DirectoryLock lock = cache.lock(entry)) {
                    Block cached = cache.read(entry, key, source::newBlock, manager, config.memoryMode);
                    if (cached != null) {
                        result = cached;
                        how = "read from the cache entry " + entry;
                    } else {
                        try (DataInputStream floats = spool.open()) {
                            dense.loadParameters(manager, floats);
                        }
                        checkSelection();
                        compress(dense, manager);
                        cache.write(entry, key, dense, model, manager, architectureFactory(), record);
                        result = dense;
                        how = "compressed and cached in " + entry;
                    }
                }
            }
        }
        for (Block b : BlockTree.of(result).blocks().values()) {
            if (b instanceof CodebookBlock) { // whichever path built them (JLCM builds its own)
                ((CodebookBlock) b).getCodebookWeight().setMemoryMode(config.memoryMode);
            }
        }
        model.setBlock(result);
        logger.info(
                "Model '{}': {} in {} ms ({})",
                model.getName(),
                how,
                (System.nanoTime() - start) / 1_000_000,
                config.canonical().trim().replace('\n', ' '));
    }

    /** Fails with the selection keys named when the configuration selects no layer. */
    private void checkSelection() {
        if (!selection().selectedLayers(dense).isEmpty()) {
            return;
        }
        List<String> candidates = new ArrayList<>();
        for (Map.Entry<String, Block> e : BlockTree.of(dense).blocks().entrySet()) {
            Block b = e.getValue();
            if (b instanceof CodebookBlock) {
                continue;
            }
            for (Class<? extends Block> type : CompressionPlan.SUPPORTED_TYPES) {
                if (type.isInstance(b) && b.getDirectParameters().contains("weight")) {
                    Parameter w = b.getDirectParameters().get("weight");
                    long n = w.isInitialized() ? w.getArray().size() : -1;
                    candidates.add(e.getKey() + " (" + b.getClass().getSimpleName() + ", " + n + " weights)");
                    break;
                }
            }
        }
        throw new IllegalArgumentException(
                "The JLCM configuration selects no layer of model '"
                        + model.getName()
                        + "': "
                        + config.selectionKeys()
                        + ". Compressible layers: "
                        + (candidates.isEmpty() ? "none" : String.join(", ", candidates)));
    }

    private CodebookTransformer selection() {
        return CodebookTransformer.builder().optPlan(config.plan).optMemoryMode(config.memoryMode).build();
    }

    /** Compresses the loaded float tree in place and frees the replaced float weights. */
    private void compress(Block tree, NDManager manager) throws IOException {
        Set<Block> before = Collections.newSetFromMap(new IdentityHashMap<>());
        before.addAll(BlockTree.of(tree).blocks().values());
        if (config.plan.usesCalibration()) {
            Jlcm jlcm = Jlcm.builder().optPlan(config.plan).build();
            try (NDManager m = manager.newSubManager()) {
                Iterable<NDList> batches = calibration != null ? calibration : readCalibration(m);
                jlcm.compress(tree, batches, m);
            }
        } else {
            selection().transform(tree);
        }
        Set<Block> after = Collections.newSetFromMap(new IdentityHashMap<>());
        after.addAll(BlockTree.of(tree).blocks().values());
        for (Block b : before) {
            if (!after.contains(b) && b.getDirectParameters().contains("weight")) {
                // the codebook block took over the bias; only the dense weight is now unused
                b.getDirectParameters().get("weight").close();
            }
        }
    }

    private List<NDList> readCalibration(NDManager manager) throws IOException {
        NDList all = NDList.decode(manager, Files.readAllBytes(calibrationFile));
        if (all.isEmpty()) {
            throw new IllegalArgumentException(
                    LoadConfig.CALIBRATION + "=" + config.calibrationFile + ": " + calibrationFile + " holds no array");
        }
        long samples = all.get(0).getShape().get(0);
        List<NDList> batches = new ArrayList<>();
        for (long from = 0; from < samples; from += config.calibrationBatch) {
            long to = Math.min(samples, from + config.calibrationBatch);
            NDList batch = new NDList();
            for (NDArray a : all) {
                if (a.getShape().get(0) != samples) {
                    throw new IllegalArgumentException(
                            LoadConfig.CALIBRATION
                                    + "="
                                    + config.calibrationFile
                                    + ": the arrays of "
                                    + calibrationFile
                                    + " differ in their first (sample) dimension");
                }
                batch.add(a.get(new NDIndex(from + ":" + to)));
            }
            batches.add(batch);
        }
        return batches;
    }

    /** The full cache key: everything that decides the compressed parameters. */
    private static String keyText(Map<String, String> record) {
        StringBuilder sb = new StringBuilder();
        record.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        return sb.toString();
    }

    private Map<String, String> keyRecord(String sourceSha) throws IOException {
        Map<String, String> record = new LinkedHashMap<>();
        record.put("format", CompressedModelCache.FORMAT);
        record.put("library", LibraryFingerprint.get());
        record.put("source", sourceSha);
        record.put("architecture", Digests.sha256(architecture(dense)));
        // the plan's text holds every setting, defaults included: a changed default must not reuse an entry
        for (String line : config.canonical().split("\n")) {
            int eq = line.indexOf('=');
            record.put(line.substring(0, eq), line.substring(eq + 1));
        }
        if (config.plan.usesCalibration()) {
            record.put("calibration", calibrationFile != null ? Digests.sha256(calibrationFile) : hash(calibration));
        }
        return record;
    }

    /** The architecture as the manifest describes it, or its block classes by path. */
    private static String architecture(Block root) {
        try {
            return ArchitectureCodec.encode(root).toString();
        } catch (IllegalArgumentException e) {
            StringBuilder sb = new StringBuilder();
            for (Map.Entry<String, Block> b : BlockTree.of(root).blocks().entrySet()) {
                sb.append(b.getKey()).append(' ').append(b.getValue().getClass().getName()).append('\n');
                for (Pair<String, Parameter> p : b.getValue().getDirectParameters()) {
                    Shape s = p.getValue().isInitialized() ? p.getValue().getArray().getShape() : null;
                    sb.append("  ").append(p.getKey()).append(' ').append(s).append('\n');
                }
            }
            return sb.toString();
        }
    }

    private String architectureFactory() {
        try {
            ArchitectureCodec.encode(dense);
            return null;
        } catch (IllegalArgumentException e) {
            return source.factoryClass != null
                    ? source.factoryClass
                    : "unavailable: the architecture came from CompressingBlockFactory.Builder.optFloatBlock";
        }
    }

    private static String hash(Iterable<NDList> batches) {
        MessageDigest md = Digests.newSha256();
        for (NDList batch : batches) {
            md.update((byte) 'B');
            for (NDArray a : batch) {
                md.update(a.getDataType().name().getBytes(StandardCharsets.US_ASCII));
                md.update(ByteBuffer.wrap(a.getShape().getEncoded()));
                md.update(a.toByteArray());
            }
        }
        return Digests.hex(md.digest());
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        throw notLoaded();
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        throw notLoaded();
    }

    /** {@inheritDoc} */
    @Override
    public void saveParameters(DataOutputStream os) {
        throw notLoaded();
    }

    /** {@inheritDoc} */
    @Override
    public void initialize(NDManager manager, DataType dataType, Shape... inputShapes) {
        throw notLoaded();
    }

    private IllegalStateException notLoaded() {
        return new IllegalStateException(
                "Model '"
                        + model.getName()
                        + "' was not compressed: JLCM compresses while DJL reads the float parameters, and"
                        + " none were read (option.hasParameter=false, or no parameter file?)");
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return "CompressOnLoadBlock(" + source.description + ", " + config.canonical().trim().replace('\n', ' ').toLowerCase(Locale.ROOT) + ")";
    }
}
