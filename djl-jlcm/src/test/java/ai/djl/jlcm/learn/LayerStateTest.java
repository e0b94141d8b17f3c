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
            CompressedWeight w = s.snapshot(s.mapping()).toWeight(init);
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
        for (MappingUpdate mapping : new MappingUpdate[] {MappingUpdate.PROXIMAL, MappingUpdate.STE, MappingUpdate.SOFT}) {
            try (NDManager m = NDManager.newBaseManager()) {
                m.getEngine().setRandomSeed(5);
                float[] weight = m.randomNormal(shape).toFloatArray();
                NDArray target = m.randomNormal(shape).mul(0.5f);
                LayerSettings config = LayerSettings.defaults().toBuilder().optMethod(Method.JLCM).optBits(2).optGroups(3).optMode(CodebookMode.MULTI).optMapping(mapping).optSteps(0).optLearningRates(0.05f, 1e-3f, 0.05f).build();
                CompressedWeight init = CodebookLearner.initialize(config, weight, shape, null);
                LayerState whole = new LayerState(m, init, weight, config, Long.MAX_VALUE);
                LayerState chunked = new LayerState(m, init, weight, config, 4 * 11);
                for (int step = 0; step < 30; step++) {
                    for (LayerState s : new LayerState[] {whole, chunked}) {
                        NDArray index = s.mapping();
                        try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                            gc.backward(s.trainingWeight(index).sub(target).square().sum());
                        }
                        s.update(index);
                    }
                }
                Assert.assertEquals(chunked.mapping().toByteArray(), whole.mapping().toByteArray(), mapping.name());
                Assert.assertEquals(
                        chunked.hardWeight(chunked.mapping()).toFloatArray(), whole.hardWeight(whole.mapping()).toFloatArray(), 0f);
            }
        }
    }
}
