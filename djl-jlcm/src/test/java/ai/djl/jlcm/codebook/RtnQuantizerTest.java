package ai.djl.jlcm.codebook;

import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.ndarray.types.Shape;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.Random;

public class RtnQuantizerTest {

    @Test
    public void zeroIsALevelAndEveryValueIsWithinHalfAStep() {
        Random r = new Random(5);
        for (int bits = 1; bits <= 8; bits++) {
            int k = 1 << bits;
            float min = -3 * r.nextFloat();
            float max = 5 * r.nextFloat();
            float[] levels = UniformCodebook.levels(min, max, k);
            double step = (Math.max(max, 0) - Math.min(min, 0)) / (k - 1);
            boolean hasZero = false;
            for (int i = 0; i < k; i++) {
                hasZero |= levels[i] == 0f;
                if (i > 0) {
                    Assert.assertEquals(levels[i] - levels[i - 1], step, 1e-5 * (1 + step));
                }
            }
            Assert.assertTrue(hasZero, bits + " bits: 0 is a level");
            for (int t = 0; t <= 1000; t++) {
                float v = min + (max - min) * t / 1000f;
                float q = levels[KMeans1d.nearest(v, levels)];
                Assert.assertTrue(Math.abs(q - v) <= step / 2 + 1e-5, bits + " bits: " + v + " -> " + q);
            }
        }
    }

    @Test
    public void anOutlierDoesNotShiftTheSmallWeightsOfItsRow() {
        // one row: many small weights and one large one; at 2 bits the small ones must all become 0
        int cols = 64;
        float[] w = new float[cols];
        Random r = new Random(1);
        for (int i = 0; i < cols; i++) {
            w[i] = 0.01f * (float) r.nextGaussian();
        }
        w[7] = 3f;
        CompressedWeight c = new RtnQuantizer().quantize(w, new Shape(1, cols), LayerSettings.defaults().toBuilder().optBits(2).build());
        float[] d = c.decode();
        for (int i = 0; i < cols; i++) {
            if (i != 7) {
                Assert.assertEquals(d[i], 0f, "weight " + i);
            }
        }
        Assert.assertEquals(d[7], 3f, 0.51f, "within half a step of 1.01");
    }
}
