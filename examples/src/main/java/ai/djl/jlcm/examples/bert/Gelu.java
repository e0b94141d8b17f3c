package ai.djl.jlcm.examples.bert;

import ai.djl.jlcm.nn.Scalars;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * GELU in either of its two forms, as a parameter-free block.
 *
 * <p>BERT was trained with the tanh approximation {@code 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715
 * x^3)))}; the engine's {@link Activation#gelu(NDArray)} is the exact form {@code x Phi(x)} (erf).
 * The two differ by at most 4.7e-4 (near |x| = 2.7), which is small but measurable on the MLM
 * metrics; the form is fixed at construction and is not saved.
 */
public final class Gelu extends AbstractBlock {

    private static final byte VERSION = 1;
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2 / Math.PI);

    /** The two GELU forms. */
    public enum Form {
        /** The tanh approximation BERT was trained with. */
        TANH,
        /** The exact form with erf (the engine's gelu). */
        ERF
    }

    private final Form form;

    /**
     * Creates a GELU block.
     *
     * @param form the form
     */
    public Gelu(Form form) {
        super(VERSION);
        this.form = form;
    }

    /**
     * Returns the form.
     *
     * @return the form
     */
    public Form getForm() {
        return form;
    }

    /**
     * Applies GELU in the given form.
     *
     * @param x the input
     * @param form the form
     * @param training whether this is a training pass
     * @return the activation, in {@code x}'s manager
     */
    public static NDArray gelu(NDArray x, Form form, boolean training) {
        return form == Form.ERF ? Activation.gelu(x) : geluTanh(x, training);
    }

    /**
     * The tanh form: {@code 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))}.
     *
     * @param x the input
     * @param training whether this is a training pass: then, as whenever autograd records (a
     *     gradient collector is open, whatever the pass), no operand autograd keeps is updated in
     *     place. DJL's {@code hasGradient()} cannot tell: it is false for every array computed from
     *     one that requires a gradient.
     * @return the activation, in {@code x}'s manager
     */
    public static NDArray geluTanh(NDArray x, boolean training) {
        if (!training && !JniUtils.isGradMode()) {
            // inference: two new arrays, updated in place (each temporary of an activation-sized
            // array costs an allocation that shows in the wall time)
            NDArray inner = x.mul(x);
            inner.muli(x).muli(0.044715f).addi(x).muli(SQRT_2_OVER_PI);
            NDArray y = inner.tanh();
            inner.close();
            return y.addi(1f).muli(x).muli(0.5f);
        }
        // out-of-place when gradients flow, so that autograd keeps every operand it needs
        NDArray inner = Scalars.mul(Scalars.mul(x.mul(x).mul(x), 0.044715f).add(x), SQRT_2_OVER_PI);
        return Scalars.mul(inner.tanh().add(1f).mul(x), 0.5f);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        return new NDList(gelu(inputs.singletonOrThrow(), form, training));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return "Gelu(" + form + ")";
    }
}
