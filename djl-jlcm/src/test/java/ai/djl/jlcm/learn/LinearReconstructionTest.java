package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.List;

public class LinearReconstructionTest {

    @Test
    public void trainingLossHasTheGradientOfTheOutputError() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(7);
            NDArray w = m.randomNormal(new Shape(5, 12));
            NDArray xFloat = m.randomNormal(new Shape(40, 12));
            NDArray xCompressed = xFloat.add(m.randomNormal(new Shape(40, 12)).mul(0.1f));
            NDArray candidate = w.add(m.randomNormal(new Shape(5, 12)).mul(0.2f));
            try (LinearReconstruction loss =
                    new LinearReconstruction(m, w, List.of(xCompressed), List.of(xFloat), 0f)) {
                NDArray a = candidate.duplicate();
                a.setRequiresGradient(true);
                try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                    gc.backward(loss.loss(a));
                }
                NDArray b = candidate.duplicate();
                b.setRequiresGradient(true);
                NDArray target = xFloat.matMul(w.transpose());
                try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                    NDArray direct = xCompressed.matMul(b.transpose()).sub(target).square().sum();
                    gc.backward(direct.div(target.square().sum()));
                }
                float[] expected = b.getGradient().toFloatArray();
                float[] actual = a.getGradient().toFloatArray();
                for (int i = 0; i < expected.length; i++) {
                    Assert.assertEquals(actual[i], expected[i], 1e-4 * (1 + Math.abs(expected[i])), "element " + i);
                }
                double direct = xCompressed.matMul(candidate.transpose()).sub(target).square().sum().getFloat()
                        / target.square().sum().getFloat();
                Assert.assertEquals(loss.error(candidate), direct, 1e-4 * (1 + direct));
            }
        }
    }
}
