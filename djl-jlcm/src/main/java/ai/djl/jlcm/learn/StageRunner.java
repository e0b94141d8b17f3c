package ai.djl.jlcm.learn;

import ai.djl.jlcm.pipeline.FloatSource;
import ai.djl.jlcm.pipeline.Stage;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * Consecutive stages' forward passes as one block, to run calibration batches through (it owns no
 * parameters and no children: the stages' blocks stay in the model's tree). With a float source, the
 * stages after the first are loaded for each pass and released after it: they are not compressed
 * yet, and only the first is resident.
 */
final class StageRunner extends AbstractBlock {

    private final List<Stage> stages;
    private final FloatSource source;

    StageRunner(List<Stage> stages, FloatSource source) {
        this.stages = List.copyOf(stages);
        this.source = source;
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDList x = inputs;
        for (int i = 0; i < stages.size(); i++) {
            Stage stage = stages.get(i);
            if (i == 0 || source == null) {
                x = stage.forward().apply(ps, x, training);
                continue;
            }
            try {
                source.load(stage);
                x = stage.forward().apply(ps, x, training);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                source.release(stage);
            }
        }
        return x;
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        throw new UnsupportedOperationException("a stage runner only runs calibration batches");
    }
}
