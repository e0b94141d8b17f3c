package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * Stand-ins that take a layer's (or a unit's) place in its block tree for one calibration pass and
 * report each input they receive to a {@link CalibrationPass}. The layer stand-ins extend the
 * layer's base type so they fit wherever the layer (or its codebook replacement) fits.
 */
final class InputRecorder {

    private InputRecorder() {}

    /**
     * Returns a block that reports each input to {@code pass} as {@code member}, then runs {@code layer}.
     *
     * @param layer a {@link Linear} or {@link Convolution} (or a codebook block extending one)
     * @param pass the pass
     * @param member the layer's index in the pass
     * @return the recording block
     */
    static Block wrap(Block layer, CalibrationPass pass, int member) {
        if (layer instanceof Linear) {
            return new RecordingLinear((Linear) layer, pass, member);
        }
        if (layer instanceof Convolution) {
            return new RecordingConvolution((Convolution) layer, pass, member);
        }
        throw new IllegalArgumentException("cannot record inputs of a " + layer.getClass().getName());
    }

    /**
     * Returns a block that reports its whole input list to {@code pass} as member 0, then runs
     * {@code unit}.
     *
     * @param unit any block
     * @param pass the pass
     * @return the recording block
     */
    static Block wrapUnit(Block unit, CalibrationPass pass) {
        return new RecordingUnit(unit, pass);
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

    private static final class RecordingUnit extends AbstractBlock {
        private final Block unit;
        private final CalibrationPass pass;

        RecordingUnit(Block unit, CalibrationPass pass) {
            this.unit = unit;
            this.pass = pass;
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            pass.received(0, inputs);
            return unit.forward(ps, inputs, training, params);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputs) {
            return unit.getOutputShapes(inputs);
        }
    }

    private static final class RecordingLinear extends StandIn.ForLinear {
        private final CalibrationPass pass;
        private final int member;

        RecordingLinear(Linear layer, CalibrationPass pass, int member) {
            super(layer);
            this.pass = pass;
            this.member = member;
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            pass.received(member, inputs);
            return layer.forward(ps, inputs, training, params);
        }
    }

    private static final class RecordingConvolution extends StandIn.ForConvolution {
        private final CalibrationPass pass;
        private final int member;

        RecordingConvolution(Convolution layer, CalibrationPass pass, int member) {
            super(layer);
            this.pass = pass;
            this.member = member;
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            pass.received(member, inputs);
            return layer.forward(ps, inputs, training, params);
        }
    }
}
