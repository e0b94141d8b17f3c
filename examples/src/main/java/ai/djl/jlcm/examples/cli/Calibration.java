package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.examples.data.MnistData;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

import java.util.ArrayList;
import java.util.List;

/** Calibration inputs for JLCM: the first training images, in fixed-size batches. */
final class Calibration {

    /** Images per calibration batch. */
    static final int BATCH = 128;

    private Calibration() {}

    /**
     * Returns the first {@code samples} training images (at most the training set) as batches of
     * {@value #BATCH} images (the last one may be smaller), owned by {@code manager}.
     *
     * @param data the data set
     * @param manager the manager that owns the arrays; close it when the batches are no longer needed
     * @param samples how many images, at least 1
     * @return the batches, each an NDList of one N×1×rows×cols array
     */
    static List<NDList> batches(MnistData data, NDManager manager, int samples) {
        if (samples < 1) {
            throw new IllegalArgumentException("calibration samples must be positive, got " + samples);
        }
        NDArray images = data.calibrationBatch(manager, Math.min(samples, data.trainSize())).singletonOrThrow();
        long n = images.getShape().get(0);
        List<NDList> batches = new ArrayList<>();
        for (long from = 0; from < n; from += BATCH) {
            batches.add(new NDList(images.get(from + ":" + Math.min(n, from + BATCH))));
        }
        return batches;
    }
}
