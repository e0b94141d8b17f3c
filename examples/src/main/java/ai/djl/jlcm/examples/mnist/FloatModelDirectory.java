package ai.djl.jlcm.examples.mnist;

import ai.djl.Model;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.export.ModelDirectory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A cached trained float model as a complete DJL model directory: {@code <name>-NNNN.params} and a
 * {@code serving.properties} naming the engine, the model name and the architecture's {@code
 * BlockFactory} (shipped in this jar), so {@code Criteria.optModelPath(dir)}, {@code jlcm bench
 * --float dir} and compress-on-load take the directory as it is.
 */
public final class FloatModelDirectory {

    private static final String SERVING_PROPERTIES = "serving.properties";

    private FloatModelDirectory() {}

    /**
     * Returns whether a cached float model exists in a directory; a directory cached before it had a
     * {@code serving.properties} gets one (written to a temporary file and renamed into place).
     *
     * @param dir the directory
     * @param modelName the parameter file prefix
     * @param blockFactory the architecture's factory class name, or {@code null} for none (no {@code
     *     serving.properties})
     * @return whether the directory holds the model's parameters
     * @throws IOException if the directory cannot be read or the file written
     */
    public static boolean exists(Path dir, String modelName, String blockFactory) throws IOException {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> files = Files.list(dir)) {
            boolean params =
                    files.map(p -> p.getFileName().toString())
                            .anyMatch(f -> f.startsWith(modelName + "-") && f.endsWith(".params"));
            if (params && blockFactory != null && !Files.exists(dir.resolve(SERVING_PROPERTIES))) {
                Path tmp = Files.createTempFile(dir, "." + SERVING_PROPERTIES, ".tmp");
                try {
                    ModelDirectory.writeServingProperties(tmp, properties(modelName, blockFactory));
                    Files.move(tmp, dir.resolve(SERVING_PROPERTIES), StandardCopyOption.ATOMIC_MOVE);
                } finally {
                    Files.deleteIfExists(tmp);
                }
            }
            return params;
        }
    }

    /**
     * Saves a trained model into the cache: written in a temporary directory beside {@code dir} and
     * renamed into place (a directory that appeared meanwhile is kept).
     *
     * @param model the trained model
     * @param dir the cache directory
     * @param modelName the parameter file prefix
     * @param blockFactory the architecture's factory class name, or {@code null} for none (no {@code
     *     serving.properties})
     * @throws IOException if writing fails
     */
    public static void save(Model model, Path dir, String modelName, String blockFactory) throws IOException {
        Files.createDirectories(dir.getParent());
        Path tmp = Files.createTempDirectory(dir.getParent(), ".tmp-" + dir.getFileName() + "-");
        try {
            model.save(tmp, modelName);
            if (blockFactory != null) {
                ModelDirectory.writeServingProperties(tmp.resolve(SERVING_PROPERTIES), properties(modelName, blockFactory));
            }
            RegistryFetcher.moveIntoPlace(tmp, dir);
        } finally {
            RegistryFetcher.deleteRecursively(tmp);
        }
    }

    private static Map<String, String> properties(String modelName, String blockFactory) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("engine", "PyTorch");
        p.put("option.modelName", modelName);
        p.put("blockFactory", blockFactory);
        return p;
    }
}
