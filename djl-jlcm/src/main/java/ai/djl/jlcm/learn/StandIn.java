package ai.djl.jlcm.learn;

import ai.djl.ndarray.types.LayoutType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;

/**
 * Bases of the blocks that stand in for a layer while its inputs are recorded: they extend the
 * layer's base type (so they fit wherever the layer fits), hold no parameters of their own and
 * report the layer's output shapes. Subclasses only define the forward pass.
 */
final class StandIn {

    private StandIn() {}

    /** A stand-in for a {@link Linear}. */
    abstract static class ForLinear extends Linear {
        final Linear layer;

        ForLinear(Linear layer) {
            super(Linear.builder().setUnits(1));
            this.layer = layer;
            parameters.clear();
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputs) {
            return layer.getOutputShapes(inputs);
        }
    }

    /** A stand-in for a {@link Convolution} of any dimension, with the same settings. */
    abstract static class ForConvolution extends Convolution {
        final Convolution layer;

        ForConvolution(Convolution layer) {
            super(new SettingsOf(layer));
            this.layer = layer;
            parameters.clear();
        }

        @Override
        protected LayoutType[] getExpectedLayout() {
            return new LayoutType[0];
        }

        @Override
        protected String getStringLayout() {
            return "";
        }

        @Override
        protected int numDimensions() {
            return kernelShape.dimension() + 2;
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputs) {
            return layer.getOutputShapes(inputs);
        }
    }

    /** The settings of an existing convolution, for a stand-in's constructor. */
    private static final class SettingsOf extends Convolution.ConvolutionBuilder<SettingsOf> {
        SettingsOf(Convolution c) {
            setKernelShape(c.getKernelShape());
            optStride(c.getStride());
            optPadding(c.getPadding());
            optDilation(c.getDilation());
            setFilters(c.getFilters());
            optGroups(c.getGroups());
            optBias(c.isIncludeBias());
        }

        @Override
        protected SettingsOf self() {
            return this;
        }
    }
}
