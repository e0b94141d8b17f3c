package ai.djl.jlcm.pipeline;

import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;

import java.util.List;

/**
 * One link of a model's chain: the block paths it owns, the paths of earlier stages' blocks it also
 * runs (a weight shared between stages, such as BERT's word table that is also its masked-LM
 * decoder), and its forward pass from the previous stage's outputs to its own. Side inputs (an
 * attention mask) are part of those lists and travel from stage to stage.
 *
 * @param name a name for progress messages
 * @param paths the block paths (from the model's root) of the layers this stage owns; a layer is owned
 *     by the stage one of whose paths equals the layer's path or is an ancestor of it
 * @param uses paths owned by earlier stages whose blocks this stage also runs
 * @param forward the stage's forward pass
 */
public record Stage(String name, List<String> paths, List<String> uses, Forward forward) {

    /**
     * Creates a stage.
     *
     * @param name the name
     * @param paths the owned paths
     * @param uses the shared paths of earlier stages it runs
     * @param forward the forward pass
     */
    public Stage {
        paths = List.copyOf(paths);
        uses = List.copyOf(uses);
    }

    /**
     * A stage owning one child of a block, whose forward pass is the child's. The child is looked up
     * by its key on every pass, so a block put in its place (a recorder, a codebook block) runs.
     *
     * @param parent the parent block (the model's root)
     * @param key the child's key, which is also its path
     * @return the stage
     */
    public static Stage child(Block parent, String key) {
        return new Stage(
                key, List.of(key), List.of(), (ps, in, training) -> parent.getChildren().get(key).forward(ps, in, training));
    }

    /**
     * Returns whether this stage owns the block at a path.
     *
     * @param path a block path
     * @return whether one of this stage's paths is the path or an ancestor of it
     */
    public boolean owns(String path) {
        return covers(paths, path);
    }

    /**
     * Returns whether this stage runs the block at a path that it does not own.
     *
     * @param path a block path
     * @return whether one of {@link #uses()} is the path or an ancestor of it
     */
    public boolean runs(String path) {
        return covers(uses, path);
    }

    private static boolean covers(List<String> prefixes, String path) {
        for (String p : prefixes) {
            if (p.isEmpty() || path.equals(p) || path.startsWith(p + "/")) {
                return true;
            }
        }
        return false;
    }

    /** A stage's forward pass. */
    @FunctionalInterface
    public interface Forward {
        /**
         * Runs the stage.
         *
         * @param ps the parameter store
         * @param inputs the previous stage's outputs (the model's inputs for the first stage)
         * @param training whether the pass is for training
         * @return the stage's outputs
         */
        NDList apply(ParameterStore ps, NDList inputs, boolean training);
    }
}
