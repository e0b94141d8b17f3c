package ai.djl.jlcm.nn;

import ai.djl.engine.Engine;
import ai.djl.jlcm.GcPressure;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.testng.Assert;
import org.testng.annotations.Test;

/**
 * Gradients through constants stay right while the collector frees direct buffers between the
 * forward and the backward pass (DJL 0.36's own {@code mul(Number)} and {@code div(Number)} give
 * NaN or values like -2.6e29 there, in every trial).
 */
public class ScalarsTest {

    private static void pause() {
        try {
            Thread.sleep(8); // a few collections of the pressure thread
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    public void productsAndQuotientsKeepTheirGradientsUnderCollection() {
        try (NDManager m = NDManager.newBaseManager();
                GcPressure pressure = GcPressure.start()) {
            for (int trial = 0; trial < 20; trial++) {
                try (NDManager step = m.newSubManager()) {
                    NDArray x = step.ones(new Shape(4));
                    x.setRequiresGradient(true);
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray y = Scalars.mul(x, 3f).add(Scalars.div(x.square(), 4f));
                        pause();
                        gc.backward(y.sum());
                    }
                    // d/dx (3x + x²/4) at x = 1
                    Assert.assertEquals(x.getGradient().toFloatArray(), new float[] {3.5f, 3.5f, 3.5f, 3.5f}, "trial " + trial);
                }
            }
        }
    }
}
