package ai.djl.jlcm.codebook;

import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.ndarray.types.Shape;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.Random;

public class KMeansQuantizerTest {

    /** Rows of correlated pairs: weight 2i+1 is weight 2i plus a little noise. */
    private static float[] correlatedPairs(int rows, int cols, long seed) {
        Random r = new Random(seed);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i += 2) {
            w[i] = (float) r.nextGaussian();
            w[i + 1] = w[i] + 0.3f * (float) r.nextGaussian();
        }
        return w;
    }

    private static double squaredError(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (a[i] - b[i]) * (double) (a[i] - b[i]);
        }
        return s;
    }

    @Test
    public void vectorCodebooksStoreTheSameIndexBitsPerWeightAndFitCorrelatedPairsBetter() {
        Shape shape = new Shape(64, 48);
        float[] w = correlatedPairs(64, 48, 3);
        LayerSettings scalar = LayerSettings.defaults().toBuilder().optBits(2).optGroups(4).build();
        CompressedWeight s = new KMeansQuantizer().quantize(w, shape, scalar);
        CompressedWeight v = new KMeansQuantizer().quantize(w, shape, scalar.toBuilder().optVectorLength(2).build());
        Assert.assertEquals(v.getBits(), 4, "2 bits per weight in pairs: 4-bit indices");
        Assert.assertEquals(v.getVectorLength(), 2);
        Assert.assertEquals(v.getIndices().length, 64 * 24);
        // indices: 64·24 four-bit indices = 768 bytes, as 64·48 two-bit ones; group ids 16 bytes;
        // 4 codebooks of 16 codewords of 2 floats against 4 of 4 floats
        Assert.assertEquals(v.storedBits(), 8L * (768 + 16) + 32L * 4 * 16 * 2);
        Assert.assertEquals(s.storedBits(), 8L * (768 + 16) + 32L * 4 * 4);
        double scalarError = squaredError(s.decode(), w);
        double vectorError = squaredError(v.decode(), w);
        // a 4×4 product grid is one of the 16-codeword vector codebooks: k-means must beat it clearly here
        Assert.assertTrue(vectorError < 0.7 * scalarError, vectorError + " vs " + scalarError);
    }

    @Test
    public void vectorsThatDoNotDivideARowAreRefusedWithTheShape() {
        LayerSettings settings = LayerSettings.defaults().toBuilder().optBits(2).optVectorLength(4).build();
        IllegalArgumentException e =
                Assert.expectThrows(IllegalArgumentException.class, () -> new KMeansQuantizer().quantize(new float[30], new Shape(3, 10), settings));
        Assert.assertTrue(e.getMessage().contains("divide the 10 weights of a row of (3, 10)"), e.getMessage());
    }
}
