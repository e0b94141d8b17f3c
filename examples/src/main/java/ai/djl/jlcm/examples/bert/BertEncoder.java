package ai.djl.jlcm.examples.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import java.util.Locale;

/**
 * The stack of encoder layers, children {@code layer_00}, {@code layer_01}, ... (numbered from 0
 * like the checkpoint's {@code layer_N}). Inputs: hidden states {@code (B, T, H)} and the additive
 * attention bias; output {@code (B, T, H)}.
 */
public final class BertEncoder extends AbstractBlock {

    private static final byte VERSION = 1;

    /**
     * Creates the encoder.
     *
     * @param config the BERT dimensions
     */
    public BertEncoder(BertConfig config) {
        super(VERSION);
        for (int i = 0; i < config.layers(); i++) {
            children.add(layerKey(i), new BertLayer(config));
        }
    }

    /**
     * Returns the child key of layer {@code i}.
     *
     * @param i the layer index, from 0
     * @return for example {@code layer_03}
     */
    public static String layerKey(int i) {
        return String.format(Locale.ROOT, "layer_%02d", i);
    }

    /**
     * Returns the number of layers.
     *
     * @return the number of layers
     */
    public int getLayerCount() {
        return children.size();
    }

    /**
     * Returns the block now at layer {@code i} (a {@link BertLayer} unless something was put in
     * its place).
     *
     * @param i the layer index, from 0
     * @return the block
     */
    public ai.djl.nn.Block getLayer(int i) {
        return children.get(i).getValue();
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray input = inputs.get(0);
        NDArray bias = inputs.get(1);
        NDManager owner = input.getManager();
        NDArray h = input;
        // read the children each pass: a compression may have put other blocks in their places
        for (ai.djl.nn.Block layer : children.values()) {
            if (training) {
                h = layer.forward(ps, new NDList(h, bias), true).head();
                continue;
            }
            // inference: a layer's intermediates are freed when it ends, not when the whole pass does
            NDArray out;
            try (NDManager step = owner.newSubManager()) {
                h.tempAttach(step);
                out = layer.forward(ps, new NDList(h, bias), false).head();
                out.attach(owner);
            }
            if (h != input) {
                h.close();
            }
            h = out;
        }
        return new NDList(h);
    }

    /** {@inheritDoc} */
    @Override
    public void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        for (ai.djl.nn.Block layer : children.values()) {
            layer.initialize(manager, dataType, inputShapes);
        }
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
