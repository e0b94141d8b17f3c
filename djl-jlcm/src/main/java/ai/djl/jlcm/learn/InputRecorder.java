package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import java.util.List;

/**
 * Stand-ins that take a layer's place in its block tree for one calibration pass: each forwards to
 * the layer and keeps a copy of its input. They extend the layer's base type so they fit wherever
 * the layer (or its codebook replacement) fits.
 */
final class InputRecorder {

    private InputRecorder() {}

    /**
     * Returns a block that runs {@code layer} and copies each input into {@code sink}.
     *
     * @param layer a {@link Linear} or {@link Convolution} (or a codebook block extending one)
     * @param sink where input copies go
     * @param manager the manager that owns the copies
     * @return the recording block
     */
    static Block wrap(Block layer, List<NDArray> sink, NDManager manager) {
        if (layer instanceof Linear) {
            return new RecordingLinear((Linear) layer, sink, manager);
        }
        if (layer instanceof Convolution) {
            return new RecordingConvolution((Convolution) layer, sink, manager);
        }
        throw new IllegalArgumentException("cannot record inputs of a " + layer.getClass().getName());
    }

    /**
     * Returns a block that runs {@code unit} and copies its whole input list into {@code sink}.
     *
     * @param unit any block
     * @param sink where input copies go
     * @param manager the manager that owns the copies
     * @return the recording block
     */
    static Block wrapUnit(Block unit, List<NDList> sink, NDManager manager) {
        return new RecordingUnit(unit, sink, manager);
    }

    /**
     * Copies a list of arrays into a manager.
     *
     * @param list the arrays
     * @param manager the manager of the copies
     * @return the copies
     */
    static NDList copy(NDList list, NDManager manager) {
        NDList out = new NDList(list.size());
        for (NDArray a : list) {
            NDArray c = a.duplicate();
            c.attach(manager);
            out.add(c);
        }
        return out;
    }

    private static NDList record(
            Block layer,
            List<NDArray> sink,
            NDManager manager,
            ParameterStore ps,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray copy = inputs.singletonOrThrow().duplicate();
        copy.attach(manager);
        sink.add(copy);
        return layer.forward(ps, inputs, training, params);
    }

    private static final class RecordingUnit extends ai.djl.nn.AbstractBlock {
        private final Block unit;
        private final List<NDList> sink;
        private final NDManager manager;

        RecordingUnit(Block unit, List<NDList> sink, NDManager manager) {
            this.unit = unit;
            this.sink = sink;
            this.manager = manager;
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            sink.add(copy(inputs, manager));
            return unit.forward(ps, inputs, training, params);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputs) {
            return unit.getOutputShapes(inputs);
        }
    }

    private static final class RecordingLinear extends StandIn.ForLinear {
        private final List<NDArray> sink;
        private final NDManager manager;

        RecordingLinear(Linear layer, List<NDArray> sink, NDManager manager) {
            super(layer);
            this.sink = sink;
            this.manager = manager;
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            return record(layer, sink, manager, ps, inputs, training, params);
        }
    }

    private static final class RecordingConvolution extends StandIn.ForConvolution {
        private final List<NDArray> sink;
        private final NDManager manager;

        RecordingConvolution(Convolution layer, List<NDArray> sink, NDManager manager) {
            super(layer);
            this.sink = sink;
            this.manager = manager;
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            return record(layer, sink, manager, ps, inputs, training, params);
        }
    }
}
