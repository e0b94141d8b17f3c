package ai.djl.jlcm.learn;

import ai.djl.jlcm.nn.Scalars;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * End-to-end fine-tuning of a compressed model ({@link FineTuning}): Adam on every codebook and
 * scale (and optionally every uncompressed float parameter but the dense weights of layers left
 * float) against the float model's outputs on the calibration batches, one batch a step, through
 * the model's training-mode forward pass (so dropout and batch statistics apply as in training;
 * re-estimate batch norms afterwards). The mappings stay fixed. A run that ends with a higher
 * calibration loss than it started from puts the start back, so fine-tuning never makes the model
 * worse on its calibration data.
 */
public final class FineTuner {

    private static final Logger logger = LoggerFactory.getLogger(FineTuner.class);

    private FineTuner() {}

    /**
     * Fine-tunes a compressed model in place.
     *
     * @param root the model's root, with its codebook blocks in place
     * @param inputs the calibration batches
     * @param targets the float model's outputs for each batch (the first output is compared)
     * @param settings the settings
     * @param manager the manager of temporary arrays
     * @param bar a progress bar, or null
     * @return the report
     * @throws IllegalArgumentException if the batch and target counts differ, a target's shape is
     *     not the output's, or the model has no codebook block
     */
    public static FineTuneReport run(
            Block root, List<NDList> inputs, List<NDList> targets, FineTuning settings, NDManager manager, ai.djl.util.Progress bar) {
        if (inputs.isEmpty() || inputs.size() != targets.size()) {
            throw new IllegalArgumentException(
                    "Fine-tuning needs one float output per calibration batch: " + inputs.size() + " batches, "
                            + targets.size() + " outputs");
        }
        long startNanos = System.nanoTime();
        Trainable trainable = Trainable.of(root, settings.learnsFloatParameters());
        if (trainable.codebookValues == 0) {
            throw new IllegalArgumentException("Fine-tuning found no codebook block in the model");
        }
        double before = meanLoss(root, inputs, targets, settings.getLoss(), manager);
        logger.info(
                "Fine-tuning {} codebook and {} float values for {} steps ({}); calibration loss {}",
                trainable.codebookValues,
                trainable.floatValues,
                settings.getSteps(),
                settings,
                format(before));
        if (bar != null) {
            bar.reset("Fine-tuning", settings.getSteps(), "");
        }
        NDManager state = manager.newSubManager();
        int skipped = 0;
        double after;
        boolean reverted;
        Map<NDArray, Adam> adams = new IdentityHashMap<>();
        List<NDArray> start = new ArrayList<>();
        try {
            for (NDArray a : trainable.arrays) {
                start.add(a.duplicate());
                start.get(start.size() - 1).attach(state);
                adams.put(a, new Adam(state.zeros(a.getShape()), settings.getLearningRate()));
                a.setRequiresGradient(true);
            }
            int every = Math.max(1, settings.getSteps() / 10);
            double sum = 0;
            for (int step = 0; step < settings.getSteps(); step++) {
                int i = step % inputs.size();
                try (NDManager scope = manager.newSubManager()) {
                    NDList x = inputs.get(i);
                    NDList t = targets.get(i);
                    x.tempAttach(scope);
                    t.tempAttach(scope);
                    long batch = x.get(0).getShape().get(0);
                    long micro = settings.getMicroBatch() == 0 ? batch : settings.getMicroBatch();
                    for (long r0 = 0; r0 < batch; r0 += micro) {
                        long r1 = Math.min(batch, r0 + micro);
                        try (NDManager part = scope.newSubManager();
                                GradientCollector gc = manager.getEngine().newGradientCollector()) {
                            NDList xs = rows(x, r0, r1, batch, part);
                            NDArray y = root.forward(new ParameterStore(part, false), xs, true).get(0);
                            NDArray loss = loss(y, rows(t, r0, r1, batch, part).get(0), settings.getLoss());
                            // the batch's loss is the mean of its samples': each part weighs its share
                            gc.backward(Scalars.mul(loss, (float) (r1 - r0) / batch));
                            sum += loss.getFloat() * (r1 - r0) / batch;
                        }
                    }
                    if (finiteGradients(trainable.arrays, scope)) {
                        for (NDArray a : trainable.arrays) {
                            update(a, adams.get(a), scope);
                        }
                    } else {
                        skipped++;
                        logger.warn("Fine-tuning step {}: a gradient is not finite; the step is skipped", step + 1);
                        for (NDArray a : trainable.arrays) {
                            zeroGradient(a, scope);
                        }
                    }
                }
                if ((step + 1) % every == 0 || step + 1 == settings.getSteps()) {
                    int n = (step % every) + 1;
                    logger.info("Fine-tuning step {}/{}: loss {} (mean of the last {} steps)", step + 1, settings.getSteps(), format(sum / n), n);
                    sum = 0;
                }
                if (bar != null) {
                    bar.update(step + 1, "");
                }
            }
            for (NDArray a : trainable.arrays) {
                a.setRequiresGradient(false);
            }
            after = meanLoss(root, inputs, targets, settings.getLoss(), manager);
            reverted = !(after <= before);
            if (reverted) {
                logger.warn(
                        "Fine-tuning ended at calibration loss {}, above the start's {}: the start is kept (a lower"
                                + " learning rate may help)",
                        format(after),
                        format(before));
                for (int k = 0; k < start.size(); k++) {
                    start.get(k).copyTo(trainable.arrays.get(k));
                }
                after = before;
            }
        } finally {
            for (NDArray a : trainable.arrays) {
                a.setRequiresGradient(false);
            }
            state.close();
            if (bar != null) {
                bar.end();
            }
        }
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        logger.info("Fine-tuned in {} s: calibration loss {} -> {}", String.format(Locale.ROOT, "%.1f", seconds), format(before), format(after));
        return new FineTuneReport(settings.getSteps() - skipped, trainable.codebookValues, trainable.floatValues, before, after, reverted, seconds);
    }

    /**
     * Returns a model's outputs for each batch, in inference mode: the float model's, before it is
     * compressed, are fine-tuning's targets.
     *
     * @param root the model
     * @param inputs the batches
     * @param owner the manager of the outputs
     * @return one output per batch
     */
    public static List<NDList> outputs(Block root, List<NDList> inputs, NDManager owner) {
        return StageRunner.advance(root, inputs, owner);
    }

    /** Rows {@code [r0, r1)} of every array of a batch of {@code batch} samples (the batch itself if all). */
    private static NDList rows(NDList list, long r0, long r1, long batch, NDManager owner) {
        if (r0 == 0 && r1 == batch) {
            return list;
        }
        NDList out = new NDList();
        for (NDArray a : list) {
            if (a.getShape().dimension() == 0 || a.getShape().get(0) != batch) {
                throw new IllegalArgumentException(
                        "Micro-batches split every array along axis 0, but an array of shape " + a.getShape()
                                + " is not of the batch's " + batch + " samples");
            }
            NDArray slice = a.get(r0 + ":" + r1);
            slice.attach(owner);
            out.add(slice);
        }
        return out;
    }

    /**
     * Whether every array's gradient is finite (by the largest magnitude, which is NaN or infinite
     * iff some value is: a sum of squares would overflow on large finite gradients). The first
     * array that is not is logged with its shape.
     */
    private static boolean finiteGradients(List<NDArray> arrays, NDManager scope) {
        try (NDManager u = scope.newSubManager()) {
            for (NDArray a : arrays) {
                NDArray g = a.getGradient();
                g.attach(u);
                float max = g.abs().max().getFloat();
                if (!Float.isFinite(max)) {
                    logger.warn("A gradient of shape {} holds {} (its largest magnitude)", a.getShape(), max);
                    return false;
                }
            }
            return true;
        }
    }

    /** Zeroes an array's gradient, non-finite values included. */
    private static void zeroGradient(NDArray a, NDManager scope) {
        try (NDManager u = scope.newSubManager()) {
            NDArray g = a.getGradient();
            g.attach(u);
            g.set(new NDIndex(":"), 0f);
        }
    }

    /** Applies one Adam step to an array from its gradient, then zeroes the gradient. */
    private static void update(NDArray a, Adam adam, NDManager scope) {
        try (NDManager u = scope.newSubManager()) {
            NDArray g = a.getGradient();
            g.attach(u);
            adam.tempAttach(u);
            a.subi(adam.step(g));
            g.subi(g);
        }
    }

    /**
     * Returns the loss over all batches (the mean of the batches' losses), in inference mode.
     *
     * @param root the model
     * @param inputs the batches
     * @param targets the float outputs
     * @param kind the loss
     * @param manager the manager of temporaries
     * @return the mean loss
     */
    static double meanLoss(Block root, List<NDList> inputs, List<NDList> targets, FineTuning.Loss kind, NDManager manager) {
        double sum = 0;
        for (int i = 0; i < inputs.size(); i++) {
            try (NDManager scope = manager.newSubManager()) {
                NDList x = inputs.get(i);
                NDList t = targets.get(i);
                x.tempAttach(scope);
                t.tempAttach(scope);
                NDArray y = root.forward(new ParameterStore(scope, false), x, false).get(0);
                sum += loss(y, t.get(0), kind).getFloat();
            }
        }
        return sum / inputs.size();
    }

    /**
     * Returns the loss of an output against the float model's.
     *
     * @param y the compressed model's output
     * @param target the float model's
     * @param kind the loss
     * @return a scalar
     */
    static NDArray loss(NDArray y, NDArray target, FineTuning.Loss kind) {
        if (!y.getShape().equals(target.getShape())) {
            throw new IllegalArgumentException(
                    "The model's output " + y.getShape() + " differs in shape from the float output " + target.getShape());
        }
        if (kind == FineTuning.Loss.MSE) {
            return y.sub(target).square().mean();
        }
        long classes = y.getShape().get(y.getShape().dimension() - 1);
        NDArray logP = target.logSoftmax(-1);
        NDArray logQ = y.logSoftmax(-1);
        return Scalars.div(logP.exp().mul(logP.sub(logQ)).sum(), (float) (y.size() / classes));
    }

    private static String format(double loss) {
        return String.format(Locale.ROOT, "%.5f", loss);
    }

    /** The arrays fine-tuning learns: codebooks and scales first, then the float parameters. */
    private static final class Trainable {
        final List<NDArray> arrays = new ArrayList<>();
        long codebookValues;
        long floatValues;

        static Trainable of(Block root, boolean floats) {
            Trainable t = new Trainable();
            Map<NDArray, Boolean> seen = new IdentityHashMap<>();
            List<NDArray> floatArrays = new ArrayList<>();
            for (Block b : BlockTree.of(root).blocks().values()) {
                List<Parameter> codebookParameters =
                        b instanceof CodebookBlock ? ((CodebookBlock) b).getCodebookWeight().parameters() : List.of();
                for (Parameter p : codebookParameters) {
                    if (p.getType() == Parameter.Type.WEIGHT && seen.put(p.getArray(), true) == null) {
                        t.arrays.add(p.getArray());
                        t.codebookValues += p.getArray().size();
                    }
                }
                if (!floats) {
                    continue;
                }
                for (Parameter p : b.getDirectParameters().values()) {
                    if (codebookParameters.contains(p) || !p.requiresGradient() || !p.isInitialized() || isDenseLayerWeight(b, p)) {
                        continue;
                    }
                    NDArray a = p.getArray();
                    if (a.getDataType() == DataType.FLOAT32 && seen.put(a, true) == null) {
                        floatArrays.add(a);
                        t.floatValues += a.size();
                    }
                }
            }
            t.arrays.addAll(floatArrays);
            return t;
        }

        /**
         * Whether a parameter is the dense weight of a layer left float (a Linear or convolution a plan
         * did not compress): Adam at the codebooks' rate moves each of its values by about the rate a
         * step, which wrecks a dense layer (BERT-base with one layer compressed: calibration KL 0.005
         * to 0.6 in four steps at 3e-4), so it stays as trained.
         */
        private static boolean isDenseLayerWeight(Block b, Parameter p) {
            return p.getType() == Parameter.Type.WEIGHT && (b instanceof Linear || b instanceof Convolution);
        }
    }
}
