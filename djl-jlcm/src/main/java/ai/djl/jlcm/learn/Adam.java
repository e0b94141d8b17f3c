package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;

/** Adam for one array, with its state created up front in the array's manager. */
final class Adam {

    private static final float BETA1 = 0.9f;
    private static final float BETA2 = 0.999f;
    private static final float EPSILON = 1e-12f;

    private final float learningRate;
    private final NDArray mean;
    private final NDArray variance;
    private int step;

    Adam(NDArray like, float learningRate) {
        this.learningRate = learningRate;
        mean = like.zerosLike();
        variance = like.zerosLike();
    }

    /**
     * Updates the moments with a gradient and returns the step to subtract from the parameter.
     *
     * @param gradient the gradient
     * @return the step {@code lr · m̂ / (√v̂ + ε)}
     */
    NDArray step(NDArray gradient) {
        step++;
        mean.muli(BETA1).addi(gradient.mul(1 - BETA1));
        variance.muli(BETA2).addi(gradient.square().mul(1 - BETA2));
        float c1 = (float) (1 - Math.pow(BETA1, step));
        float c2 = (float) (1 - Math.pow(BETA2, step));
        return mean.div(c1).div(variance.div(c2).sqrt().add(EPSILON)).mul(learningRate);
    }

    /**
     * Attaches the moments to a manager until it closes, so that the arrays a step creates belong to
     * it.
     *
     * @param manager the manager
     */
    void tempAttach(NDManager manager) {
        mean.tempAttach(manager);
        variance.tempAttach(manager);
    }

    /** Starts a step whose moments are then updated a chunk of rows at a time ({@link #stepRows}). */
    void begin() {
        step++;
    }

    /**
     * Updates the moments of some rows with their gradient and returns their step; call {@link
     * #begin()} once per step first. The arithmetic is {@link #step(NDArray)}'s.
     *
     * @param rows the rows
     * @param gradient their gradient
     * @return their step {@code lr · m̂ / (√v̂ + ε)}
     */
    NDArray stepRows(NDIndex rows, NDArray gradient) {
        NDArray m = mean.get(rows).mul(BETA1).add(gradient.mul(1 - BETA1));
        NDArray v = variance.get(rows).mul(BETA2).add(gradient.square().mul(1 - BETA2));
        mean.set(rows, m);
        variance.set(rows, v);
        float c1 = (float) (1 - Math.pow(BETA1, step));
        float c2 = (float) (1 - Math.pow(BETA2, step));
        return m.div(c1).div(v.div(c2).sqrt().add(EPSILON)).mul(learningRate);
    }

    /**
     * Reorders the moments along axis 1 with the parameter's entries.
     *
     * @param order INT64, the new position of each entry as an index into the old ones
     */
    void permute(NDArray order) {
        mean.subi(mean.sub(mean.gather(order, 1)));
        variance.subi(variance.sub(variance.gather(order, 1)));
    }
}
