package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

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
    private final NDArray cross;
    private final float reference;
    private final float[] importance;

    LinearReconstruction(
            NDManager parent, NDArray weight, List<NDArray> compressedInputs, List<NDArray> floatInputs, float dampening) {
        manager = parent.newSubManager();
        long cols = weight.getShape().get(1);
        NDArray xt = rows(compressedInputs, cols);
        NDArray x = rows(floatInputs, cols);
        long n = xt.getShape().get(0);
        gram = xt.transpose().matMul(xt).div((float) n);
        NDArray w = weight.duplicate();
        w.attach(manager);
        cross = xt.transpose().matMul(x).div((float) n).matMul(w.transpose());
        // ‖XWᵀ‖²/n = sum((W·XᵀX/n) ⊙ W): a [rows, cols] product instead of an [n, rows] one
        try (NDArray floatGram = x.transpose().matMul(x).div((float) n)) {
            reference = w.matMul(floatGram).mul(w).sum().getFloat();
        }
        float meanDiag = xt.square().mean().getFloat();
        dampedGram = gram.add(manager.eye((int) cols).mul(dampening * meanDiag));
        importance = Importance.linear(compressedInputs, weight.getShape());
        xt.close();
        x.close();
    }

    private NDArray rows(List<NDArray> batches, long cols) {
        NDList flat = new NDList();
        for (NDArray b : batches) {
            flat.add(b.reshape(-1, cols));
        }
        NDArray all = flat.size() == 1 ? flat.get(0).duplicate() : NDArrays.concat(flat);
        all.attach(manager);
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
        NDArray gradient = w.stopGradient().matMul(dampedGram).sub(cross.transpose()).mul(2f / reference);
        return w.mul(gradient).sum();
    }

    @Override
    public boolean separableByRows() {
        return true;
    }

    @Override
    public NDArray lossOfRows(NDArray rows, long from) {
        long to = from + rows.getShape().get(0);
        NDArray target = cross.get(":, " + from + ":" + to).transpose();
        NDArray gradient = rows.stopGradient().matMul(dampedGram).sub(target).mul(2f / reference);
        return rows.mul(gradient).sum();
    }

    @Override
    public double error(NDArray w) {
        try (NDArray l = quadratic(w, gram)) {
            return l.getFloat();
        }
    }

    private NDArray quadratic(NDArray w, NDArray h) {
        NDArray value = w.matMul(h).mul(w).sum().sub(w.mul(cross.transpose()).sum().mul(2f)).add(reference);
        return value.div(reference);
    }

    @Override
    public float[] importance() {
        return importance;
    }

    @Override
    public void close() {
        manager.close();
    }
}
