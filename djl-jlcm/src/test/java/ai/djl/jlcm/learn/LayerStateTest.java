package ai.djl.jlcm.learn;

import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.testng.Assert;
import org.testng.annotations.Test;

public class LayerStateTest {

    private static LayerSettings config(MappingUpdate mapping) {
        return LayerSettings.defaults().toBuilder().optMethod(Method.JLCM).optBits(1).optGroups(1).optMode(CodebookMode.MULTI).optMapping(mapping).optSteps(0).optLearningRates(0.05f, 1e-3f, 0.02f).build();
    }

    /**
     * Codewords that cross while learning are re-sorted: with frozen mappings every weight must keep
     * its codeword (and its Adam moments), not take the one that moved into its position.
     */
    @Test
    public void frozenMappingsFollowTheirCodewordsWhenCodewordsCross() {
        Shape shape = new Shape(2, 4);
        // row 0 maps to codeword 0 (value 0), row 1 to codeword 1 (value 1); the targets swap them
        int[] indices = {0, 0, 0, 0, 1, 1, 1, 1};
        float[] target = {2, 2, 2, 2, -1, -1, -1, -1};
        CompressedWeight init =
                new CompressedWeight(shape, 1, CodebookMode.MULTI, 1, new int[] {0, 0}, new float[] {0, 1}, null, indices);
        try (NDManager m = NDManager.newBaseManager()) {
            LayerState s = new LayerState(m, init, new float[] {0, 0, 0, 0, 1, 1, 1, 1}, config(MappingUpdate.FROZEN));
            NDArray t = m.create(target, shape);
            for (int step = 0; step < 400; step++) {
                NDArray index = s.mapping();
                try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                    gc.backward(s.trainingWeight(index).sub(t).square().sum());
                }
                s.update(index);
            }
            float[] learned = s.hardWeight(s.mapping()).toFloatArray();
            Assert.assertEquals(learned, target, 0.05f);
            s.keep(s.mapping());
            CompressedWeight w = s.kept();
            Assert.assertEquals(w.decode(), target, 0.05f);
        }
    }

    /** An all-zero layer has a constant codebook (no spacing): SOFT must not divide by zero. */
    @Test
    public void softAssignmentOfAConstantCodebookIsFinite() {
        Shape shape = new Shape(2, 4);
        CompressedWeight init =
                new CompressedWeight(shape, 1, CodebookMode.MULTI, 1, new int[] {0, 0}, new float[] {0, 0}, null, new int[8]);
        try (NDManager m = NDManager.newBaseManager()) {
            LayerState s = new LayerState(m, init, new float[8], config(MappingUpdate.SOFT));
            float[] w = s.trainingWeight(s.mapping()).toFloatArray();
            Assert.assertEquals(w, new float[8], 0f);
        }
    }

    /**
     * Counting the cell boundaries below a latent picks the nearest codeword: where the argmin of the
     * distances picks another one, the two are equally near (to float rounding).
     */
    @Test
    public void nearestCodewordByBoundariesIsTheNearest() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(6);
            NDArray latent = m.randomNormal(new Shape(300, 2000));
            NDArray rows = m.randomNormal(new Shape(300, 32)).sort(1);
            NDArray found = LayerState.nearest(latent, rows);
            Assert.assertEquals(found.getDataType(), DataType.UINT8);
            Assert.assertEquals(found.getShape(), new Shape(300, 2000));
            NDArray distance = latent.expandDims(2).sub(rows.expandDims(1)).abs();
            float[] best = distance.min(new int[] {2}).toFloatArray();
            float[] chosen = distance.gather(found.toType(DataType.INT64, false).expandDims(2), 2).squeeze(2).toFloatArray();
            long[] argmin = distance.argMin(2).toLongArray();
            byte[] index = found.toByteArray();
            int differ = 0;
            for (int i = 0; i < best.length; i++) {
                Assert.assertEquals(chosen[i], best[i], 1e-6f, "element " + i);
                differ += (index[i] & 0xFF) == argmin[i] ? 0 : 1;
            }
            Assert.assertTrue(differ <= best.length / 10000, differ + " of " + best.length + " differ from the argmin");
        }
    }

    /** Updating the latents a few rows at a time gives exactly the one-piece update. */
    @Test
    public void chunkedUpdatesEqualTheOnePieceUpdate() {
        Shape shape = new Shape(37, 11);
        for (MappingUpdate mapping : new MappingUpdate[] {MappingUpdate.PROXIMAL, MappingUpdate.STE, MappingUpdate.SOFT, MappingUpdate.NEIGHBOURS}) {
            try (NDManager m = NDManager.newBaseManager()) {
                m.getEngine().setRandomSeed(5);
                float[] weight = m.randomNormal(shape).toFloatArray();
                NDArray target = m.randomNormal(shape).mul(0.5f);
                LayerSettings config = LayerSettings.defaults().toBuilder().optMethod(Method.JLCM).optBits(2).optGroups(3).optMode(CodebookMode.MULTI).optMapping(mapping).optSteps(0).optLearningRates(0.05f, 1e-3f, 0.05f).build();
                CompressedWeight init = CodebookLearner.initialize(config, weight, shape, null);
                // the loss Σ(Ŵ − T)² has curvature 1 along every weight
                NDArray curvature = mapping == MappingUpdate.NEIGHBOURS ? m.ones(new Shape(1, 11)) : null;
                LayerState whole = new LayerState(m, init, weight, config, Long.MAX_VALUE, curvature, null);
                LayerState chunked = new LayerState(m, init, weight, config, 4 * 11, curvature, null);
                for (int step = 0; step < 30; step++) {
                    for (LayerState s : new LayerState[] {whole, chunked}) {
                        NDArray index = s.mapping();
                        try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                            gc.backward(s.trainingWeight(index).sub(target).square().sum());
                        }
                        s.update(index);
                    }
                }
                // the two run the same arithmetic on differently laid-out arrays, so sums can differ in
                // their last bit (the engine's vector loops depend on alignment), and 30 Adam steps can
                // turn that into a latent crossing a cell boundary: one flip was seen (SOFT, 1 of 407);
                // a wrong block's update would move whole rows
                byte[] c = chunked.mapping().toByteArray();
                byte[] w = whole.mapping().toByteArray();
                float[] cw = chunked.hardWeight(chunked.mapping()).toFloatArray();
                float[] ww = whole.hardWeight(whole.mapping()).toFloatArray();
                int flips = 0;
                for (int i = 0; i < c.length; i++) {
                    if (c[i] != w[i]) {
                        flips++;
                    } else {
                        Assert.assertEquals(cw[i], ww[i], 1e-5f * (1 + Math.abs(ww[i])), mapping + " weight " + i);
                    }
                }
                Assert.assertTrue(flips <= 2, mapping + ": " + flips + " of " + c.length + " mappings differ");
            }
        }
    }

    /**
     * On the loss Σ(Ŵ − T)² (curvature 1 along each weight, the square of the scale in codebook units)
     * with the codebooks held still, the predicted change of a move is the exact one, so one
     * NEIGHBOURS step moves, in each row, exactly the weight whose move to a neighbouring codeword
     * brings it nearest to its target, and no other.
     */
    @Test
    public void neighbourStepTakesEachRowsBestMove() {
        int cols = 50;
        Shape shape = new Shape(6, cols);
        for (CodebookMode mode : new CodebookMode[] {CodebookMode.MULTI, CodebookMode.SCALED}) {
            try (NDManager m = NDManager.newBaseManager()) {
                m.getEngine().setRandomSeed(7);
                float[] weight = m.randomNormal(shape).toFloatArray();
                float[] target = m.randomNormal(shape).mul(1.5f).toFloatArray();
                LayerSettings config = LayerSettings.defaults().toBuilder().optMethod(Method.JLCM).optBits(3).optGroups(2).optMode(mode).optMapping(MappingUpdate.NEIGHBOURS).optSteps(0).optLearningRates(0f, 0f, 0.05f).build();
                CompressedWeight init = CodebookLearner.initialize(config, weight, shape, null);
                LayerState s = new LayerState(m, init, weight, config, LayerState.UPDATE_CHUNK, m.ones(new Shape(1, cols)), null);
                NDArray index = s.mapping();
                try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                    gc.backward(s.trainingWeight(index).sub(m.create(target, shape)).square().sum());
                }
                s.update(index);
                byte[] moved = s.mapping().toByteArray();
                int k = init.codewords();
                float[] books = init.getCodebooks();
                int[] expected = init.getIndices().clone();
                for (int row = 0; row < 6; row++) {
                    int group = init.getGroupOf()[row];
                    int base = (mode == CodebookMode.MULTI ? group : 0) * k;
                    float scale = mode == CodebookMode.SCALED ? init.getScales()[group] : 1f;
                    double bestGain = 0;
                    int bestWeight = -1;
                    int bestIndex = -1;
                    for (int n = 0; n < cols; n++) {
                        int i = row * cols + n;
                        int from = init.getIndices()[i];
                        double now = Math.pow(scale * books[base + from] - target[i], 2);
                        for (int j : new int[] {from - 1, from + 1}) {
                            if (j < 0 || j >= k) {
                                continue;
                            }
                            Assert.assertTrue(books[base + Math.min(j, from)] <= books[base + Math.max(j, from)], "codebooks ascend");
                            double gain = Math.pow(scale * books[base + j] - target[i], 2) - now;
                            if (gain < bestGain) {
                                bestGain = gain;
                                bestWeight = i;
                                bestIndex = j;
                            }
                        }
                    }
                    Assert.assertTrue(bestWeight >= 0, mode + " row " + row + " has an improving move");
                    expected[bestWeight] = bestIndex;
                }
                for (int i = 0; i < moved.length; i++) {
                    Assert.assertEquals(moved[i] & 0xFF, expected[i], mode + " weight " + i);
                }
            }
        }
    }

    @Test
    public void neighbourMappingsNeedACurvature() {
        CompressedWeight init =
                new CompressedWeight(new Shape(2, 4), 1, CodebookMode.MULTI, 1, new int[] {0, 0}, new float[] {0, 1}, null, new int[8]);
        try (NDManager m = NDManager.newBaseManager()) {
            IllegalArgumentException e =
                    Assert.expectThrows(
                            IllegalArgumentException.class,
                            () -> new LayerState(m, init, new float[8], config(MappingUpdate.NEIGHBOURS)));
            Assert.assertTrue(e.getMessage().contains("reconstruction units"), e.getMessage());
        }
    }
}
