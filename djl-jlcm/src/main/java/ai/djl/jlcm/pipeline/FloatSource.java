package ai.djl.jlcm.pipeline;

import java.io.IOException;

/**
 * Where a model's float parameters come from when they are not all resident: the model's tree holds
 * placeholders, and a stage's float parameters are read from the source when the stage starts (and,
 * for one pass, when an earlier stage's recording runs through it), so the float network is never
 * resident whole. A parameter whose block was replaced (a compressed layer) is not loaded again.
 */
public interface FloatSource {

    /**
     * Loads the float parameters of the blocks a stage owns into the model's tree, if they are not
     * loaded yet.
     *
     * @param stage the stage
     * @throws IOException if the source cannot be read
     */
    void load(Stage stage) throws IOException;

    /**
     * Frees a stage's float parameters again, leaving placeholders (for a stage loaded for one pass
     * before it is compressed).
     *
     * @param stage the stage
     */
    void release(Stage stage);

    /**
     * Returns the SHA-256 (lower-case hex) that identifies the source's float parameters: a
     * checkpoint of another source is not resumed.
     *
     * @return the digest
     * @throws IOException if the source cannot be read
     */
    String digest() throws IOException;
}
