package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.testng.Assert;
import org.testng.annotations.Test;

public class ProximalStepTest {

    // one neuron, codebook {0, 1, 3, 7}: mean spacing 7/3
    private static final float[] CODEBOOK = {0, 1, 3, 7};
    private static final double SPACING = 7.0 / 3;

    @Test
    public void phiFollowsTheNeighbourInTheDescentDirection() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray rows = m.create(CODEBOOK, new Shape(1, 4));
            NDArray index = m.create(new long[] {1, 1, 0, 3, 2, 0, 3}, new Shape(1, 7));
            // descent direction: up, down, down (edge), up (edge), up, up, down
            NDArray descent = m.create(new float[] {1, -1, -1, 1, 1, 1, -1}, new Shape(1, 7));
            for (float edge : new float[] {0f, 1f}) {
                float[] phi = ProximalStep.phi(rows, index, descent, edge).toFloatArray();
                double[] expected = {
                    Math.exp(-2 / SPACING), // 1 -> 3
                    Math.exp(-1 / SPACING), // 1 -> 0
                    edge, // below 0: none
                    edge, // above 7: none
                    Math.exp(-4 / SPACING), // 3 -> 7
                    Math.exp(-1 / SPACING), // 0 -> 1
                    Math.exp(-4 / SPACING) // 7 -> 3
                };
                for (int i = 0; i < expected.length; i++) {
                    Assert.assertEquals(phi[i], expected[i], 1e-6, "weight " + i + " edge " + edge);
                }
            }
        }
    }

    @Test
    public void forwardIsTheCodewordAndLatentGradientIsProximal() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray codebook = m.create(CODEBOOK, new Shape(1, 4));
            codebook.setRequiresGradient(true);
            NDArray latent = m.create(new float[] {1.4f, 0.9f, -0.3f, 6.2f}, new Shape(1, 4));
            latent.setRequiresGradient(true);
            NDArray index = m.create(new long[] {1, 1, 0, 3}, new Shape(1, 4));
            NDArray upstream = m.create(new float[] {-2f, 3f, 0.5f, -1f}, new Shape(1, 4));
            try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                // the straight-through form of the learner: value = c[I], gradient to the latent = G
                NDArray w = codebook.take(m, index).add(latent.sub(latent.stopGradient()));
                Assert.assertEquals(w.toFloatArray(), new float[] {1, 1, 0, 7});
                gc.backward(w.mul(upstream).sum());
            }
            NDArray g = latent.getGradient();
            Assert.assertEquals(g.toFloatArray(), upstream.toFloatArray());
            // codebook gradient: per-codeword sums of G
            Assert.assertEquals(codebook.getGradient().toFloatArray(), new float[] {0.5f, 1f, 0f, -1f});
            // proximal gradient: G·φ, the candidate being the neighbour in the descent direction −sign(G)
            float[] prox = ProximalStep.gradient(g, codebook.stopGradient(), index, 0f).toFloatArray();
            Assert.assertEquals(prox[0], -2 * Math.exp(-2 / SPACING), 1e-6); // G<0: up, 1 -> 3
            Assert.assertEquals(prox[1], 3 * Math.exp(-1 / SPACING), 1e-6); // G>0: down, 1 -> 0
            Assert.assertEquals(prox[2], 0f, 0f); // G>0 at the lowest codeword: outward, zero
            Assert.assertEquals(prox[3], 0f, 0f); // G<0 at the highest codeword: outward, zero
            float[] edgeOne = ProximalStep.gradient(g, codebook.stopGradient(), index, 1f).toFloatArray();
            Assert.assertEquals(edgeOne[2], 0.5f, 0f);
            Assert.assertEquals(edgeOne[3], -1f, 0f);
        }
    }

    @Test
    public void aStepNeverMovesAMappingByMoreThanOneCodeword() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray rows = m.create(CODEBOOK, new Shape(1, 4));
            NDArray index = m.create(new long[] {0, 1, 2, 3, 1, 2}, new Shape(1, 6));
            // latents pushed far in both directions
            NDArray latent = m.create(new float[] {100, 100, -100, -100, -100, 100}, new Shape(1, 6));
            NDArray clamped = ProximalStep.clampToNeighbours(rows, index, latent);
            byte[] moved = LayerState.nearest(clamped, rows).toByteArray();
            Assert.assertEquals(moved, new byte[] {1, 2, 1, 2, 0, 3});
            // latents that stay within reach are untouched
            NDArray near = m.create(new float[] {0.2f, 1.7f, 2.5f, 6f, 0.1f, 4.9f}, new Shape(1, 6));
            Assert.assertEquals(ProximalStep.clampToNeighbours(rows, index, near).toFloatArray(), near.toFloatArray());
        }
    }
}
