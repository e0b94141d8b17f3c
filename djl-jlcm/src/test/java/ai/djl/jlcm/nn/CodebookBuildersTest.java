package ai.djl.jlcm.nn;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.testng.Assert;
import org.testng.annotations.Test;

/** Builder and constructor arguments that contradict each other or are shared with the caller. */
public class CodebookBuildersTest {

    private static CompressedWeight weight(int[] indices, float[] codebook) {
        return new CompressedWeight(new Shape(2, 2), 1, CodebookMode.MULTI, 1, new int[] {0, 0}, codebook, null, indices);
    }

    @Test
    public void aCompressedWeightKeepsItsOwnCopyOfTheCallersArrays() {
        int[] indices = {0, 1, 1, 0};
        float[] codebook = {-1, 1};
        CompressedWeight w = weight(indices, codebook);
        indices[0] = 1;
        codebook[0] = 5;
        Assert.assertEquals(w.decode(), new float[] {-1, 1, 1, -1}, 0f);
    }

    @Test
    public void aBiasArrayWithOptBiasFalseIsAClearError() {
        try (NDManager m = NDManager.newBaseManager()) {
            CodebookWeight cw = CodebookWeight.of(weight(new int[] {0, 1, 1, 0}, new float[] {-1, 1}), m);
            IllegalArgumentException e =
                    Assert.expectThrows(
                            IllegalArgumentException.class,
                            () -> CodebookLinear.codebookBuilder()
                                    .setWeight(cw)
                                    .optBiasArray(m.zeros(new Shape(2)))
                                    .optBias(false)
                                    .optLayerName("fc")
                                    .build());
            Assert.assertEquals(e.getMessage(), "Layer fc: optBiasArray gives a bias, optBias(false) removes it; use one");
            e = Assert.expectThrows(
                    IllegalArgumentException.class,
                    () -> CodebookLinear.codebookBuilder().setWeight(cw).optBiasArray(m.zeros(new Shape(3))).build());
            Assert.assertTrue(e.getMessage().contains("the bias must be (2)"), e.getMessage());
        }
    }
}
