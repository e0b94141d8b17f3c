package ai.djl.jlcm.examples.cli;

import ai.djl.MalformedModelException;
import ai.djl.jlcm.export.ModelDirectory;
import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Loading model directories the way users do, through {@link Criteria}. */
public final class ModelDirectories {

    private ModelDirectories() {}

    /**
     * Loads a model directory through {@link Criteria} with {@link NDList} types, after finishing any
     * replacement of it that a killed export left ({@link ModelDirectory#recover(Path)}).
     *
     * @param dir the directory
     * @return the model; the caller closes it
     * @throws IOException if it cannot be read
     * @throws ModelNotFoundException if it is not a model directory
     * @throws MalformedModelException if it is malformed
     */
    public static ZooModel<NDList, NDList> load(Path dir)
            throws IOException, ModelNotFoundException, MalformedModelException {
        ModelDirectory.recover(dir);
        return Criteria.builder()
                .setTypes(NDList.class, NDList.class)
                .optModelPath(dir)
                .optEngine("PyTorch")
                .optTranslator(new NoopTranslator())
                .build()
                .loadModel();
    }

    /**
     * Returns the total size of the {@code .params} files of a directory.
     *
     * @param dir the directory
     * @return bytes
     * @throws IOException if it cannot be listed
     */
    public static long paramsBytes(Path dir) throws IOException {
        long total = 0;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (f.getFileName().toString().endsWith(".params")) {
                    total += Files.size(f);
                }
            }
        }
        return total;
    }
}
