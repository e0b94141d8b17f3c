package ai.djl.jlcm.learn;

import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.BatchNorm;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Re-estimates the running statistics of every {@link BatchNorm} of a block tree from calibration
 * inputs, after its layers were compressed: a compressed layer's outputs have other statistics than
 * the float layer's, which the stored running mean and variance no longer fit. The BatchNorm blocks
 * are done in network order, each from its inputs with the earlier ones already re-estimated; its
 * running mean and (unbiased) variance become those of its inputs over all calibration samples and
 * positions. Weights and the BatchNorm's scale and shift are not touched.
 */
public final class BatchNormStatistics {

    private static final Logger logger = LoggerFactory.getLogger(BatchNormStatistics.class);

    private BatchNormStatistics() {}

    /**
     * Re-estimates the running statistics of every BatchNorm of a tree.
     *
     * @param root the root block
     * @param calibration unlabeled input batches of the root
     * @param manager the manager for temporary arrays
     * @return the number of BatchNorm blocks re-estimated
     */
    public static int reestimate(Block root, Iterable<NDList> calibration, NDManager manager) {
        List<String> paths = new ArrayList<>();
        for (Map.Entry<String, Block> e : BlockTree.of(root).blocks().entrySet()) {
            if (e.getValue() instanceof BatchNorm) {
                paths.add(e.getKey());
            }
        }
        for (String path : paths) {
            BatchNorm bn = (BatchNorm) BlockTree.of(root).get(path);
            try (NDManager capture = manager.newSubManager()) {
                List<NDList> inputs = CalibrationPass.ofUnit(root, path, bn, root, calibration, capture);
                Parameter mean = bn.getDirectParameters().get("runningMean");
                Parameter var = bn.getDirectParameters().get("runningVar");
                int axis = axis(bn, inputs.get(0).head().getShape().dimension());
                NDArray sum = null;
                NDArray squares = null;
                long count = 0;
                for (NDList in : inputs) {
                    NDArray x = in.head();
                    int[] reduce = new int[x.getShape().dimension() - 1];
                    for (int d = 0, r = 0; d < x.getShape().dimension(); d++) {
                        if (d != axis) {
                            reduce[r++] = d;
                        }
                    }
                    NDArray s = x.sum(reduce);
                    NDArray q = x.square().sum(reduce);
                    sum = sum == null ? s : sum.add(s);
                    squares = squares == null ? q : squares.add(q);
                    count += x.getShape().size() / x.getShape().get(axis);
                }
                NDArray m = sum.div(count);
                NDArray v = squares.div(count).sub(m.square()).mul(count / Math.max(1.0, count - 1.0)).maximum(0f);
                mean.getArray().set(m.toFloatArray());
                var.getArray().set(v.toFloatArray());
                logger.debug("BatchNorm {}: statistics re-estimated from {} positions", path, count);
            }
        }
        return paths.size();
    }

    /** DJL's BatchNorm keeps its normalized axis private; read it (default 1, the channel axis). */
    private static int axis(BatchNorm bn, int rank) {
        try {
            Field f = BatchNorm.class.getDeclaredField("axis");
            f.setAccessible(true);
            int axis = f.getInt(bn);
            return axis < 0 ? axis + rank : axis;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return 1;
        }
    }
}
