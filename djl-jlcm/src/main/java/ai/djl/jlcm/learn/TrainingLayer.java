package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * Stand-ins that take a layer's place while a reconstruction unit (a block holding several layers)
 * is learned: their weight comes from a {@link LayerState}, soft (differentiable) or decoded from a
 * hard mapping. The bias stays the float layer's.
 */
final class TrainingLayer {

    private final LayerState state;
    private final NDArray bias;
    private NDArray index;
    private boolean hard;

    private TrainingLayer(LayerState state, Block layer) {
        this.state = state;
        Parameter b = layer.getDirectParameters().contains("bias") ? layer.getDirectParameters().get("bias") : null;
        bias = b == null ? null : b.getArray();
    }

    /**
     * Returns a block computing like {@code layer} with the weight of {@code state}.
     *
     * @param layer a {@link Linear} or {@link Convolution}
     * @param state the trainable weight
     * @return the stand-in and its control
     */
    static Bound bind(Block layer, LayerState state) {
        TrainingLayer control = new TrainingLayer(state, layer);
        Block block =
                layer instanceof Linear
                        ? new TrainingLinear(control, (Linear) layer)
                        : new TrainingConvolution(control, (Convolution) layer);
        return new Bound(block, control);
    }

    /**
     * Sets the mapping the next forward passes use.
     *
     * @param index the mapping
     * @param hard whether to decode it without gradients (evaluation) or softly (training)
     */
    void use(NDArray index, boolean hard) {
        this.index = index;
        this.hard = hard;
    }

    private NDArray weight() {
        return hard ? state.hardWeight(index) : state.trainingWeight(index);
    }

    /**
     * A stand-in block with its control.
     *
     * @param block the block to put in the tree
     * @param control sets its mapping
     */
    record Bound(Block block, TrainingLayer control) {}

    private static final class TrainingLinear extends StandIn.ForLinear {
        private final TrainingLayer control;

        TrainingLinear(TrainingLayer control, Linear layer) {
            super(layer);
            this.control = control;
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            return linear(inputs.singletonOrThrow(), control.weight(), control.bias);
        }
    }

    private static final class TrainingConvolution extends StandIn.ForConvolution {
        private final TrainingLayer control;

        TrainingConvolution(TrainingLayer control, Convolution layer) {
            super(layer);
            this.control = control;
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            NDArray x = inputs.singletonOrThrow();
            return x.getNDArrayInternal()
                    .convolution(x, control.weight(), control.bias, stride, padding, dilation, groups);
        }
    }
}
