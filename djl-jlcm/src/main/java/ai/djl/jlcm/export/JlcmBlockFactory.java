package ai.djl.jlcm.export;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.jlcm.transform.Replacements;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.util.ClassLoaderUtils;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The {@link BlockFactory} of compressed model directories: it reads {@value Manifest#FILE_NAME}
 * (whose own checksum it verifies), refuses a directory with any parameter file besides the
 * manifest's, checks that file against the manifest's size and SHA-256, builds the dense block tree
 * (from the manifest's description or an architecture factory) and puts empty codebook blocks at the
 * compressed layers, for DJL to load the parameters into.
 *
 * <p>Named by {@code blockFactory} in the directory's {@code serving.properties}. Argument {@code
 * jlcm.memoryMode=packed|byte|fp16|fp32} (a Criteria argument or a serving.properties key) sets what
 * the codebook blocks keep in memory ({@link MemoryMode}; default {@code packed}).
 */
public class JlcmBlockFactory implements BlockFactory {

    private static final long serialVersionUID = 1L;

    /** The argument that sets the {@link MemoryMode} of the codebook blocks. */
    public static final String MEMORY_MODE = "jlcm.memoryMode";

    /** The prefix of the keys a cache entry records in its {@code serving.properties}. */
    public static final String CACHE_RECORD_PREFIX = "jlcm.cache.";

    /** {@inheritDoc} */
    @Override
    public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments)
            throws IOException {
        Path dir = Files.isRegularFile(modelPath) ? modelPath.getParent() : modelPath;
        MemoryMode memoryMode = memoryMode(arguments);
        checkArguments(dir, arguments);
        try {
            Manifest manifest = Manifest.read(dir.resolve(Manifest.FILE_NAME));
            checkOnlyParameterFile(dir, manifest);
            Digests.checkFile(dir.resolve(manifest.paramsFile()), manifest.paramsBytes(), manifest.paramsSha256());
            Block dense = denseBlock(manifest, model, dir, arguments);
            return withCodebookLayers(dense, manifest, memoryMode);
        } catch (MalformedModelException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    /**
     * Checks the {@code jlcm.*} arguments of a compressed directory: only {@value #MEMORY_MODE}
     * applies (and the {@code jlcm.cache.*} records of cache entries); keys that choose how to
     * compress are refused, since the weights are already compressed, and unknown keys are refused as
     * typos.
     */
    private static void checkArguments(Path dir, Map<String, ?> arguments) {
        for (String key : new java.util.TreeSet<>(arguments.keySet())) {
            if (!key.startsWith("jlcm.") || key.equals(MEMORY_MODE) || key.startsWith(CACHE_RECORD_PREFIX)) {
                continue;
            }
            throw new IllegalArgumentException(
                    key
                            + "="
                            + arguments.get(key)
                            + " does not apply to "
                            + dir
                            + ": its weights are already compressed (keys that choose how to compress apply to"
                            + " float models loaded through CompressingBlockFactory); the key of a compressed"
                            + " directory is "
                            + MEMORY_MODE);
        }
    }

    /**
    /**
     * DJL reads the highest-numbered {@code <name>-NNNN.params} of a directory (or the one an {@code
     * epoch} option names), not the manifest's: a directory with any other parameter file is refused,
     * so that the file DJL reads is the one whose checksum was verified.
     */
    static void checkOnlyParameterFile(Path dir, Manifest manifest) throws IOException, MalformedModelException {
        try (Stream<Path> files = Files.list(dir)) {
            List<String> stray =
                    files.map(p -> p.getFileName().toString())
                            .filter(n -> n.endsWith(".params") && !n.equals(manifest.paramsFile()))
                            .sorted()
                            .collect(Collectors.toList());
            if (!stray.isEmpty()) {
                throw new MalformedModelException(
                        dir
                                + " holds "
                                + String.join(", ", stray)
                                + " besides the manifest's parameter file "
                                + manifest.paramsFile()
                                + "; DJL could load it instead of the verified file, so the directory is refused"
                                + " (remove the other parameter files)");
            }
        }
    }

    /**
     * Reads {@value #MEMORY_MODE} from load arguments.
     *
     * @param arguments the arguments
     * @return the memory mode ({@link MemoryMode#PACKED} when absent)
     * @throws IllegalArgumentException naming the key and the allowed values for a wrong value
     */
    public static MemoryMode memoryMode(Map<String, ?> arguments) {
        if (arguments.containsKey("jlcm.cacheDecodedWeight")) {
            throw new IllegalArgumentException(
                    "jlcm.cacheDecodedWeight was replaced by " + MEMORY_MODE + "=" + MemoryMode.allowedKeys()
                            + " (fp32 for the old true)");
        }
        Object value = arguments.get(MEMORY_MODE);
        if (value == null) {
            return MemoryMode.PACKED;
        }
        try {
            return MemoryMode.fromKey(value.toString());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "Invalid " + MEMORY_MODE + "=" + value + ": allowed values: " + MemoryMode.allowedKeys(), e);
        }
    }

    private static Block denseBlock(
            Manifest manifest, Model model, Path dir, Map<String, ?> arguments)
            throws IOException, MalformedModelException {
        if (manifest.architecture() != null) {
            try {
                return ArchitectureCodec.decode(manifest.architecture());
            } catch (RuntimeException e) {
                throw new MalformedModelException(
                        dir.resolve(Manifest.FILE_NAME) + ": bad architecture: " + e.getMessage(), e);
            }
        }
        BlockFactory factory =
                ClassLoaderUtils.findImplementation(
                        dir, BlockFactory.class, manifest.architectureFactory());
        if (factory == null) {
            throw new MalformedModelException(
                    "Architecture factory "
                            + manifest.architectureFactory()
                            + " named in "
                            + dir.resolve(Manifest.FILE_NAME)
                            + " is not on the class path");
        }
        return factory.newBlock(model, dir, arguments);
    }

    /**
     * Replaces the manifest's layers of a dense, uninitialized block tree by empty codebook blocks.
     *
     * @param dense the dense tree
     * @param manifest the manifest
     * @param memoryMode what the codebook blocks keep in memory
     * @return the tree, ready for its parameters to be loaded
     * @throws MalformedModelException if the manifest does not match the tree
     */
    public static Block withCodebookLayers(Block dense, Manifest manifest, MemoryMode memoryMode)
            throws MalformedModelException {
        BlockTree tree = BlockTree.of(dense);
        for (Manifest.Layer layer : manifest.layers()) {
            Block block = tree.get(layer.path());
            Block replacement;
            try {
                boolean linear = block instanceof Linear && "linear".equals(layer.type());
                if (!linear && !(block instanceof Convolution && "convolution".equals(layer.type()))) {
                    throw new IllegalArgumentException(
                            block == null
                                    ? "the block tree has no such layer"
                                    : "the block tree holds a " + block.getClass().getSimpleName());
                }
                if (Replacements.hasBias(block) != layer.bias()) {
                    throw new IllegalArgumentException("bias presence differs");
                }
                CodebookWeight weight = new CodebookWeight(layer.shape(), layer.bits(), layer.vectorLength(), layer.mode(), layer.groups());
                replacement = Replacements.codebookBlock(block, weight, layer.path(), memoryMode);
                tree.checkReplaceable(block, replacement, layer.path());
            } catch (IllegalArgumentException e) {
                throw new MalformedModelException(
                        "Manifest layer '"
                                + layer.path()
                                + "' ("
                                + layer.type()
                                + ") does not match the block tree: "
                                + e.getMessage(),
                        e);
            }
            tree.replace(block, replacement);
        }
        return dense;
    }
}
