package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.List;

/**
 * The reconstruction loss of a linear layer in Gram form. With calibration inputs X̃ (from the partly
 * compressed network) and X (from the float network), n rows each:
 *
 * <pre>
 * ‖X̃Ŵᵀ − XWᵀ‖²/n = tr(Ŵ H̃ Ŵᵀ) − 2 tr(Ŵ P) + c,   H̃ = X̃ᵀX̃/n,  P = (X̃ᵀX/n)Wᵀ,  c = ‖XWᵀ‖²/n
 * </pre>
 *
 * <p>so each evaluation costs O·N² whatever the number of calibration rows. The training loss
 * dampens H̃ by {@code λ·mean(diag H̃)·I} (as GPTQ does) against overfitting rank-deficient Grams; the
 * reported error is undampened. Both are divided by c, so they are relative errors.
 *
 * <p>The training loss is returned as the surrogate {@code sum(Ŵ ⊙ sg(2ŴH̃ − 2Pᵀ))/c} ({@code sg}:
 * stop-gradient), whose gradient with respect to Ŵ is exactly that of the quadratic ({@code H̃} is
 * symmetric): autograd then needs one {@code O×N×N} product a step instead of two.
 */
final class LinearReconstruction implements ReconstructionLoss {

    private final NDManager manager;
    private final NDArray gram;
    private final NDArray dampedGram;
    /** {@code Pᵀ = W·(X̃ᵀX/n)ᵀ}, {@code [rows, cols]}: the rows' linear terms. */
    private final NDArray crossRows;
    private final float reference;
    private final Shape shape;
    /** The importance of the weights of each input column (the same for every neuron). */
    private final float[] columnImportance;
    /** What the dampening adds to each diagonal entry of H̃. */
    private final float damping;

    LinearReconstruction(
            NDManager parent, NDArray weight, List<NDArray> compressedInputs, List<NDArray> floatInputs, float dampening) {
        manager = parent.newSubManager();
        long cols = weight.getShape().get(1);
        // the temporaries (inputs, the float Gram, weight-sized products) are freed when this is done
        try (NDManager scratch = manager.newSubManager()) {
            NDArray xt = rows(compressedInputs, cols, scratch);
            NDArray x = rows(floatInputs, cols, scratch);
            long n = xt.getShape().get(0);
            gram = xt.transpose().matMul(xt).div((float) n);
            gram.attach(manager);
            NDArray w = weight.duplicate();
            w.attach(scratch);
            crossRows = w.matMul(x.transpose().matMul(xt).div((float) n));
            crossRows.attach(manager);
            // ‖XWᵀ‖²/n = sum((W·XᵀX/n) ⊙ W): a [rows, cols] product instead of an [n, rows] one
            reference = w.matMul(x.transpose().matMul(x).div((float) n)).mul(w).sum().getFloat();
            float meanDiag = xt.square().mean().getFloat();
            damping = dampening * meanDiag;
            dampedGram = gram.add(scratch.eye((int) cols).mul(damping));
            dampedGram.attach(manager);
        }
        shape = weight.getShape();
        columnImportance = Importance.inputColumns(compressedInputs, cols);
    }

    private static NDArray rows(List<NDArray> batches, long cols, NDManager target) {
        NDList flat = new NDList();
        for (NDArray b : batches) {
            flat.add(b.reshape(-1, cols));
        }
        NDArray all = flat.size() == 1 ? flat.get(0).duplicate() : NDArrays.concat(flat);
        all.attach(target);
        flat.close();
        return all;
    }

    /**
     * Returns the (undampened) Gram matrix of the compressed-stream inputs, {@code X̃ᵀX̃ / n}.
     *
     * @return one row-major {@code [cols][cols]} matrix
     */
    @Override
    public double[][] inputGrams() {
        float[] g = gram.toFloatArray();
        double[] h = new double[g.length];
        for (int i = 0; i < g.length; i++) {
            h[i] = g[i];
        }
        return new double[][] {h};
    }

    @Override
    public NDArray loss(NDArray w) {
        NDArray gradient = w.stopGradient().matMul(dampedGram).sub(crossRows).mul(2f / reference);
        return w.mul(gradient).sum();
    }

    @Override
    public boolean separableByRows() {
        return true;
    }

    @Override
    public NDArray lossOfRows(NDArray rows, long from) {
        NDArray target = crossRows.get(from + ":" + (from + rows.getShape().get(0)));
        NDArray gradient = rows.stopGradient().matMul(dampedGram).sub(target).mul(2f / reference);
        return rows.mul(gradient).sum();
    }

    @Override
    public double errorOfRows(NDArray rows, long from) {
        try (NDManager scratch = manager.newSubManager()) {
            NDArray r = rows.stopGradient();
            r.attach(scratch);
            NDArray target = crossRows.get(from + ":" + (from + rows.getShape().get(0)));
            target.attach(scratch);
            NDArray value = r.matMul(gram).mul(r).sum().sub(r.mul(target).sum().mul(2f));
            return value.getFloat() / reference;
        }
    }

    @Override
    public double error(NDArray w) {
        try (NDManager scratch = manager.newSubManager()) {
            NDArray r = w.stopGradient();
            r.attach(scratch);
            NDArray value = r.matMul(gram).mul(r).sum().sub(r.mul(crossRows).sum().mul(2f)).add(reference);
            return value.getFloat() / reference;
        }
    }

    /** {@inheritDoc} A new array each call: only the per-column values are held. */
    @Override
    public float[] importance() {
        return Importance.repeatPerNeuron(columnImportance, shape);
    }

    /** {@inheritDoc} {@code (H̃[n,n] + damping) / c} for every weight of input column n: {@code [1, cols]}. */
    @Override
    public NDArray curvature(NDManager m) {
        float[] k = new float[columnImportance.length];
        for (int n = 0; n < k.length; n++) {
            k[n] = (columnImportance[n] + damping) / reference;
        }
        return m.create(k, new Shape(1, k.length));
    }

    /** {@inheritDoc} {@code (H̃ + damping·I) / c}, the training loss's Hessian's block of one row over 2. */
    @Override
    public NDArray coupling(NDManager m) {
        NDArray c = dampedGram.div(reference);
        c.attach(m);
        return c;
    }

    @Override
    public void close() {
        manager.close();
    }
}
