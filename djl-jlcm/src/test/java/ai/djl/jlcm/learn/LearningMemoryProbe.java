package ai.djl.jlcm.learn;

import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.pipeline.ResidentMemory;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.List;
import java.util.Locale;

/**
 * Peak resident memory and time of JLCM learning one Linear layer of random weights on 4096 random
 * calibration rows (3 bits, 16 groups, MULTI, PROXIMAL). Not a test: run by hand, from the repository
 * root after {@code mvn package -DskipTests} and {@code mvn test-compile -pl djl-jlcm}, one layer per
 * JVM (the peak is the process's):
 *
 * <pre>
 * java -Dai.djl.offline=true -cp djl-jlcm/target/test-classes:examples/target/jlcm.jar \
 *     ai.djl.jlcm.learn.LearningMemoryProbe ROWS COLS STEPS      # BERT's word table: 30522 768 20
 * </pre>
 */
public final class LearningMemoryProbe {

    private LearningMemoryProbe() {}

    /**
     * Runs the probe.
     *
     * @param args rows, columns, steps
     */
    public static void main(String[] args) {
        int rows = Integer.parseInt(args[0]);
        int cols = Integer.parseInt(args[1]);
        int steps = Integer.parseInt(args[2]);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = m.randomNormal(new Shape(rows, cols)).mul(0.05f);
            NDArray x = m.randomNormal(new Shape(4096, cols));
            float[] weight = w.toFloatArray();
            System.out.printf(Locale.ROOT, "data: peak %.0f MB%n", ResidentMemory.peakBytes() / 1e6);
            LayerSettings config = LayerSettings.defaults().toBuilder().optMethod(Method.JLCM).optBits(3).optGroups(16).optMode(CodebookMode.MULTI).optMapping(MappingUpdate.PROXIMAL).optSteps(steps).optLearningRates(1e-3f, 1e-3f, 0.02f).build();
            long start = System.nanoTime();
            try (LinearReconstruction loss = new LinearReconstruction(m, w, List.of(x), List.of(x), 0.01f)) {
                System.out.printf(Locale.ROOT, "loss built: peak %.0f MB%n", ResidentMemory.peakBytes() / 1e6);
                LayerResult r = new CodebookLearner(config).learn(m, weight, new Shape(rows, cols), loss);
                System.out.printf(
                        Locale.ROOT,
                        "learned: peak %.0f MB, %.1f s, error %.5f -> %.5f%n",
                        ResidentMemory.peakBytes() / 1e6,
                        (System.nanoTime() - start) / 1e9,
                        r.initError(),
                        r.learnedError());
            }
        }
    }
}
