package ai.djl.jlcm.learn;

import ai.djl.jlcm.codebook.KMeansQuantizer;
import ai.djl.jlcm.grouping.NeuronGrouping;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import java.util.Arrays;

/**
 * Compresses one layer: groups its neurons by weight distribution, initializes codebooks by
 * importance-weighted k-means, then learns codebooks, scales and mappings jointly with Adam through
 * DJL autograd against a reconstruction loss. The state with the lowest reconstruction error seen
 * (the initialization included) is kept, so learning never makes a layer worse on its calibration
 * data.
 */
final class CodebookLearner {

    private static final int EVAL_EVERY = 10;

    /** The largest {@code rows × cols × codewords} tensor built at once by nearest-codeword search. */
    private static final long CHUNK = 1 << 24;

    private final LearningConfig config;

    CodebookLearner(LearningConfig config) {
        this.config = config;
    }

    LayerResult learn(NDManager parent, float[] weight, Shape shape, ReconstructionLoss loss) {
        int rows = Math.toIntExact(shape.get(0));
        int cols = Math.toIntExact(shape.size() / rows);
        NeuronGrouping grouping =
                NeuronGrouping.of(weight, rows, cols, Math.min(config.groups(), rows), config.seed());
        CompressedWeight init =
                KMeansQuantizer.fit(
                        weight,
                        loss.importance(),
                        shape,
                        config.bits(),
                        config.mode(),
                        grouping.groups(),
                        grouping.groupOf());
        try (NDManager m = parent.newSubManager()) {
            State state = new State(m, init, weight, shape);
            double initError = loss.error(state.hardWeight(state.initIndex).reshape(shape));
            Best best = new Best(state, state.initIndex, initError);
            if (config.steps() > 0) {
                optimize(state, loss, best);
            }
            return new LayerResult(
                    best.toWeight(init), initError, best.error, best.usage(init), best.step);
        }
    }

    private void optimize(State s, ReconstructionLoss loss, Best best) {
        NDArray z = s.latent;
        Adam codebookAdam = new Adam(s.codebook, config.codebookRate() * rms(s.codebook));
        Adam scaleAdam = s.scales == null ? null : new Adam(s.scales, config.scaleRate() * s.scales.mean().getFloat());
        Adam latentAdam = new Adam(z, config.latentRate() * s.meanSpacing());
        boolean learnsMapping = config.mapping() != MappingUpdate.FROZEN;
        for (int step = 1; step <= config.steps(); step++) {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray rowsBefore = s.codebookRows();
                NDArray index = learnsMapping ? nearest(z, rowsBefore) : s.initIndex;
                try (GradientCollector gc = s.manager.getEngine().newGradientCollector()) {
                    NDArray w = s.trainingWeight(index, config);
                    gc.backward(loss.loss(w.reshape(s.shape)));
                }
                s.codebook.subi(codebookAdam.step(s.codebook.getGradient()));
                if (scaleAdam != null) {
                    s.scales.subi(scaleAdam.step(s.scales.getGradient()));
                }
                if (learnsMapping) {
                    boolean proximal = config.mapping() == MappingUpdate.PROXIMAL;
                    NDArray gradient = z.getGradient();
                    if (proximal && !config.phiOnStep()) {
                        gradient = ProximalStep.gradient(gradient, rowsBefore, index, config.edgePhi());
                    }
                    NDArray delta = latentAdam.step(gradient);
                    if (proximal) {
                        if (config.phiOnStep()) {
                            delta = delta.mul(ProximalStep.phi(rowsBefore, index, delta.neg(), config.edgePhi()));
                        }
                        NDArray moved = ProximalStep.clampToNeighbours(rowsBefore, index, z.sub(delta));
                        z.subi(z.sub(moved));
                    } else {
                        z.subi(delta);
                    }
                }
                s.sortCodebooks();
                s.zeroGradients();
                if (step % EVAL_EVERY == 0 || step == config.steps()) {
                    NDArray hard = learnsMapping ? nearest(z, s.codebookRows()) : s.initIndex;
                    double error = loss.error(s.hardWeight(hard).reshape(s.shape));
                    if (error < best.error && Double.isFinite(error)) {
                        best.keep(s, hard, error, step);
                    }
                }
            }
        }
    }

    /** Index of the nearest codeword of each latent in its neuron's codebook. */
    static NDArray nearest(NDArray latent, NDArray rows) {
        long o = latent.getShape().get(0);
        long n = latent.getShape().get(1);
        long k = rows.getShape().get(1);
        long chunk = Math.max(1, CHUNK / Math.max(1, n * k));
        NDList parts = new NDList();
        for (long start = 0; start < o; start += chunk) {
            String range = start + ":" + Math.min(o, start + chunk);
            NDArray zs = latent.get(range).stopGradient().expandDims(2);
            NDArray cs = rows.get(range).expandDims(1);
            parts.add(zs.sub(cs).abs().argMin(2));
        }
        return parts.size() == 1 ? parts.get(0) : ai.djl.ndarray.NDArrays.concat(parts);
    }

    private static float rms(NDArray a) {
        return (float) Math.sqrt(a.square().mean().getFloat());
    }

    /** The trainable arrays of one layer. */
    private static final class State {
        final NDManager manager;
        final Shape shape;
        final int codewords;
        final NDArray codebook;
        final NDArray scales;
        final NDArray latent;
        final NDArray rowBook;
        final NDArray rowGroup;
        final NDArray initIndex;

        State(NDManager m, CompressedWeight init, float[] weight, Shape shape) {
            manager = m;
            this.shape = shape;
            int rows = init.rows();
            int cols = init.cols();
            codewords = init.codewords();
            codebook = m.create(init.getCodebooks(), new Shape(init.codebookCount(), codewords));
            codebook.setRequiresGradient(true);
            long[] group = Arrays.stream(init.getGroupOf()).asLongStream().toArray();
            rowGroup = m.create(group);
            rowBook = init.getMode() == CodebookMode.MULTI ? rowGroup : m.zeros(new Shape(rows), DataType.INT64);
            long[] idx = Arrays.stream(init.getIndices()).asLongStream().toArray();
            initIndex = m.create(idx, new Shape(rows, cols));
            if (init.getMode() == CodebookMode.SCALED) {
                scales = m.create(init.getScales());
                scales.setRequiresGradient(true);
            } else {
                scales = null;
            }
            // latents start at the weights themselves, in codebook units
            NDArray w = m.create(weight, new Shape(rows, cols));
            latent = scales == null ? w : w.div(scales.take(m, rowGroup).expandDims(1));
            latent.setRequiresGradient(true);
        }

        NDArray flatIndex(NDArray index) {
            return rowBook.expandDims(1).mul((long) codewords).add(index);
        }

        NDArray codebookRows() {
            return codebook.stopGradient().get(rowBook);
        }

        NDArray rowScale() {
            return scales.take(manager, rowGroup).expandDims(1);
        }

        float meanSpacing() {
            NDArray c = codebook.stopGradient();
            return c.get(":, -1").sub(c.get(":, 0")).div((float) (codewords - 1)).mean().getFloat();
        }

        NDArray hardWeight(NDArray index) {
            NDArray w = codebook.stopGradient().take(manager, flatIndex(index));
            return scales == null ? w : w.mul(rowScale().stopGradient());
        }

        NDArray trainingWeight(NDArray index, LearningConfig config) {
            NDArray w;
            switch (config.mapping()) {
                case FROZEN:
                    w = codebook.take(manager, flatIndex(index));
                    break;
                case SOFT:
                    NDArray rows = codebook.get(rowBook).expandDims(1);
                    float tau = config.softTemperature() * meanSpacing();
                    NDArray logits = latent.expandDims(2).sub(rows).square().div(-tau * tau);
                    w = logits.softmax(2).mul(rows).sum(new int[] {2});
                    break;
                default:
                    w = codebook.take(manager, flatIndex(index)).add(latent.sub(latent.stopGradient()));
                    break;
            }
            return scales == null ? w : w.mul(rowScale());
        }

        void sortCodebooks() {
            NDArray sorted = codebook.sort(1);
            codebook.subi(codebook.sub(sorted));
        }

        void zeroGradients() {
            for (NDArray a : new NDArray[] {codebook, scales, latent}) {
                if (a != null) {
                    NDArray g = a.getGradient();
                    g.subi(g);
                }
            }
        }
    }

    /** The best state seen, in Java memory. */
    private static final class Best {
        float[] codebook;
        float[] scales;
        int[] index;
        double error;
        int step;

        Best(State s, NDArray index, double error) {
            keep(s, index, error, 0);
        }

        void keep(State s, NDArray index, double error, int step) {
            codebook = s.codebook.toFloatArray();
            scales = s.scales == null ? null : s.scales.toFloatArray();
            this.index = index.toType(DataType.INT32, false).toIntArray();
            this.error = error;
            this.step = step;
        }

        CompressedWeight toWeight(CompressedWeight init) {
            int k = init.codewords();
            int[] idx = index.clone();
            float[] books = codebook.clone();
            int[] groupOf = init.getGroupOf();
            int cols = init.cols();
            // keep each codebook ascending, remapping indices accordingly
            for (int b = 0; b < init.codebookCount(); b++) {
                Integer[] order = new Integer[k];
                for (int i = 0; i < k; i++) {
                    order[i] = i;
                }
                final int base = b * k;
                Arrays.sort(order, (x, y) -> Float.compare(codebook[base + x], codebook[base + y]));
                int[] rank = new int[k];
                for (int i = 0; i < k; i++) {
                    books[base + i] = codebook[base + order[i]];
                    rank[order[i]] = i;
                }
                for (int o = 0; o < groupOf.length; o++) {
                    int book = init.getMode() == CodebookMode.MULTI ? groupOf[o] : 0;
                    if (book == b) {
                        for (int n = 0; n < cols; n++) {
                            idx[o * cols + n] = rank[idx[o * cols + n]];
                        }
                    }
                }
            }
            return new CompressedWeight(
                    init.getShape(), init.getBits(), init.getMode(), init.getGroups(), groupOf, books, scales, idx);
        }

        double usage(CompressedWeight init) {
            int k = init.codewords();
            boolean[] used = new boolean[init.codebookCount() * k];
            int[] groupOf = init.getGroupOf();
            int cols = init.cols();
            for (int o = 0; o < groupOf.length; o++) {
                int book = init.getMode() == CodebookMode.MULTI ? groupOf[o] : 0;
                for (int n = 0; n < cols; n++) {
                    used[book * k + index[o * cols + n]] = true;
                }
            }
            int count = 0;
            for (boolean u : used) {
                count += u ? 1 : 0;
            }
            return (double) count / used.length;
        }
    }
}
