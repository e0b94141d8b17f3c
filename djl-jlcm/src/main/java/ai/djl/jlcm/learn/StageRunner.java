package ai.djl.jlcm.learn;

import ai.djl.jlcm.pipeline.Stage;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import java.util.List;

/**
 * Consecutive stages' forward passes as one block, to run calibration batches through (it owns no
 * parameters and no children: the stages' blocks stay in the model's tree).
 */
final class StageRunner extends AbstractBlock {

    private final List<Stage> stages;

    StageRunner(List<Stage> stages) {
        this.stages = List.copyOf(stages);
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDList x = inputs;
        for (Stage stage : stages) {
            x = stage.forward().apply(ps, x, training);
        }
        return x;
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        throw new UnsupportedOperationException("a stage runner only runs calibration batches");
    }
}
