package ai.djl.jlcm.learn;

import ai.djl.jlcm.pipeline.FloatSource;
import ai.djl.jlcm.pipeline.Stage;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Consecutive stages' forward passes as one block, to run calibration batches through (it owns no
 * parameters and no children: the stages' blocks stay in the model's tree). With a float source, the
 * stages after the first are loaded for each pass and released after it: they are not compressed
 * yet, and only the first is resident. {@link #forwardStageMajor} loads each of them once for all
 * batches instead.
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

    /**
     * Returns whether running the stages loads some of them from a float source.
     *
     * @return whether there are stages after the first and a source
     */
    boolean loadsStages() {
        return source != null && stages.size() > 1;
    }

    /**
     * Runs every batch through the stages a stage at a time: each stage after the first is loaded
     * from the float source once for all batches and released after them, not once per batch.
     *
     * @param batches the first stage's input batches
     * @param target the manager of the outputs
     * @return the last stage's output for each batch
     */
    List<NDList> forwardStageMajor(List<NDList> batches, NDManager target) {
        List<NDList> x = batches;
        NDManager held = null;
        for (int i = 0; i < stages.size(); i++) {
            Stage stage = stages.get(i);
            NDManager out = target.newSubManager();
            try {
                if (i > 0 && source != null) {
                    source.load(stage);
                }
                x = advance(new StageRunner(List.of(stage), null), x, out);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                if (i > 0 && source != null) {
                    source.release(stage);
                }
                if (held != null) {
                    held.close();
                }
                held = out;
            }
        }
        // the stages read for this pass leave their arrays' direct buffers to the next GC (see
        // SequentialCompressor): hundreds of MB, which the layer learned next should not sit beside
        System.gc();
        return x;
    }

    /**
     * Runs a block on each batch, a batch's temporaries freed as soon as its output is copied.
     *
     * @param runner the block
     * @param batches its input batches
     * @param target the manager of the outputs
     * @return one output per batch
     */
    static List<NDList> advance(Block runner, List<NDList> batches, NDManager target) {
        List<NDList> out = new ArrayList<>();
        for (NDList batch : batches) {
            try (NDManager step = target.newSubManager()) {
                NDList y = runner.forward(new ParameterStore(step, false), InputRecorder.copy(batch, step), false);
                out.add(InputRecorder.copy(y, target));
            }
        }
        return out;
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        throw new UnsupportedOperationException("a stage runner only runs calibration batches");
    }
}
