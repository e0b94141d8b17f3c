package ai.djl.jlcm.pipeline;

import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.util.Pair;

import java.util.ArrayList;
import java.util.List;

/** Finds the stages of a model. */
public final class Stages {

    private Stages() {}

    /**
     * Returns the stages of a model: those of a {@link StagedBlock}, the children of a {@link
     * SequentialBlock}, or else one stage holding the whole model.
     *
     * @param root the model's root block
     * @return the stages, in order
     */
    public static List<Stage> of(Block root) {
        if (root instanceof StagedBlock) {
            return ((StagedBlock) root).stages();
        }
        if (root instanceof SequentialBlock && !root.getChildren().isEmpty()) {
            List<Stage> stages = new ArrayList<>();
            for (Pair<String, Block> child : root.getChildren()) {
                stages.add(Stage.child(root, child.getKey()));
            }
            return stages;
        }
        return List.of(whole(root));
    }

    /**
     * Returns the single stage that holds a whole model.
     *
     * @param root the model's root block
     * @return the stage
     */
    public static Stage whole(Block root) {
        return new Stage("model", List.of(""), List.of(), (ps, in, training) -> root.forward(ps, in, training));
    }
}
