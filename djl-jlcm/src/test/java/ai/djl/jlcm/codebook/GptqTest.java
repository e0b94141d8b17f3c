package ai.djl.jlcm.codebook;

import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.ndarray.types.Shape;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.Random;

public class GptqTest {

    private static final int ROWS = 24;
    private static final int COLS = 40;
    private static final int SAMPLES = 256;

    /** Correlated inputs (as real activations are), a weight, and H = XᵀX. */
    private static double[][] data(long seed, float[] weight, double[] gram) {
        Random r = new Random(seed);
        double[][] mix = new double[COLS][COLS];
        for (int i = 0; i < COLS; i++) {
            for (int j = 0; j < COLS; j++) {
                mix[i][j] = r.nextGaussian() * (j <= i ? 1.0 : 0.1);
            }
        }
        double[][] x = new double[SAMPLES][COLS];
        for (double[] row : x) {
            double[] z = new double[COLS];
            for (int j = 0; j < COLS; j++) {
                z[j] = r.nextGaussian();
            }
            for (int j = 0; j < COLS; j++) {
                double v = 0;
                for (int k = 0; k < COLS; k++) {
                    v += mix[j][k] * z[k];
                }
                row[j] = v;
            }
        }
        for (int i = 0; i < weight.length; i++) {
            weight[i] = (float) (r.nextGaussian() * 0.5);
        }
        for (double[] row : x) {
            for (int i = 0; i < COLS; i++) {
                for (int j = 0; j < COLS; j++) {
                    gram[i * COLS + j] += row[i] * row[j];
                }
            }
        }
        return x;
    }

    /** ‖X(Ŵ − W)ᵀ‖² / ‖XWᵀ‖². */
    private static double outputError(double[][] x, float[] weight, float[] quantized) {
        double num = 0;
        double den = 0;
        for (double[] row : x) {
            for (int o = 0; o < ROWS; o++) {
                double y = 0;
                double q = 0;
                for (int j = 0; j < COLS; j++) {
                    y += row[j] * weight[o * COLS + j];
                    q += row[j] * quantized[o * COLS + j];
                }
                num += (q - y) * (q - y);
                den += y * y;
            }
        }
        return num / den;
    }

    private static LayerSettings settings(int bits, CodebookMode mode) {
        return LayerSettings.defaults().toBuilder().optBits(bits).optGroups(4).optMode(mode).build();
    }

    @Test
    public void theFactorIsTheUpperCholeskyFactorOfTheInverse() {
        float[] w = new float[ROWS * COLS];
        double[] h = new double[COLS * COLS];
        data(1, w, h);
        double[] u = Gptq.upperCholeskyOfInverse(h, COLS);
        for (int i = 0; i < COLS; i++) {
            Assert.assertTrue(u[i * COLS + i] > 0);
            for (int j = 0; j < i; j++) {
                Assert.assertEquals(u[i * COLS + j], 0.0, "upper triangular");
            }
        }
        // (UᵀU) H = I
        for (int i = 0; i < COLS; i++) {
            for (int j = 0; j < COLS; j++) {
                double v = 0;
                for (int k = 0; k < COLS; k++) {
                    double hinv = 0;
                    for (int m = 0; m < COLS; m++) {
                        hinv += u[m * COLS + i] * u[m * COLS + k];
                    }
                    v += hinv * h[k * COLS + j];
                }
                Assert.assertEquals(v, i == j ? 1.0 : 0.0, 1e-8, i + "," + j);
            }
        }
    }

    @Test
    public void gptqLowersTheOutputErrorOfRoundingOnTheSameGrid() {
        for (int bits = 2; bits <= 4; bits++) {
            float[] w = new float[ROWS * COLS];
            double[] h = new double[COLS * COLS];
            double[][] x = data(bits, w, h);
            Shape shape = new Shape(ROWS, COLS);
            CompressedWeight[] grids = {
                new RtnQuantizer().quantize(w, shape, settings(bits, CodebookMode.MULTI)),
                new KMeansQuantizer().quantize(w, shape, settings(bits, CodebookMode.MULTI)),
                new KMeansQuantizer().quantize(w, shape, settings(bits, CodebookMode.SCALED))
            };
            for (CompressedWeight grid : grids) {
                CompressedWeight g = Gptq.quantize(w, h, grid, 0.01f);
                Assert.assertEquals(g.getCodebooks(), grid.getCodebooks(), "the grid is kept");
                double nearest = outputError(x, w, grid.decode());
                double gptq = outputError(x, w, g.decode());
                Assert.assertTrue(gptq < 0.9 * nearest, bits + " bits, " + grid.getMode() + ": GPTQ " + gptq + " vs nearest " + nearest);
            }
        }
    }

    /** GPTVQ: vectors of 2 and 4 columns rounded together onto k-means vector codebooks. */
    @Test
    public void vectorsLowerTheOutputErrorOfNearestVectorsAndEqualThemWithoutCorrelation() {
        for (int d : new int[] {2, 4}) {
            float[] w = new float[ROWS * COLS];
            double[] h = new double[COLS * COLS];
            double[][] x = data(10 + d, w, h);
            Shape shape = new Shape(ROWS, COLS);
            for (CodebookMode mode : CodebookMode.values()) {
                // 16 codewords of d values (4-bit indices): fewer than the vectors, so rounding errs
                LayerSettings s = settings(4 / d, mode).toBuilder().optVectorLength(d).build();
                CompressedWeight grid = new KMeansQuantizer().quantize(w, shape, s);
                CompressedWeight g = Gptq.quantize(w, h, grid, 0.01f);
                String what = "d=" + d + " " + mode;
                Assert.assertEquals(g.getVectorLength(), d, what);
                Assert.assertEquals(g.getCodebooks(), grid.getCodebooks(), what + ": the grid is kept");
                double nearest = outputError(x, w, grid.decode());
                double gptq = outputError(x, w, g.decode());
                Assert.assertTrue(gptq < 0.9 * nearest, what + ": GPTVQ " + gptq + " vs nearest " + nearest);

                // uncorrelated inputs of equal power: nothing to compensate, each vector takes its nearest codeword
                double[] identity = new double[COLS * COLS];
                for (int j = 0; j < COLS; j++) {
                    identity[j * COLS + j] = SAMPLES;
                }
                Assert.assertEquals(Gptq.quantize(w, identity, grid, 0.01f).getIndices(), grid.getIndices(), what);
            }
        }
    }

    @Test
    public void mismatchedSizesAreRefused() {
        float[] w = new float[ROWS * COLS];
        CompressedWeight grid = new RtnQuantizer().quantize(w, new Shape(ROWS, COLS), settings(2, CodebookMode.MULTI));
        IllegalArgumentException e =
                Assert.expectThrows(IllegalArgumentException.class, () -> Gptq.quantize(w, new double[10], grid, 0.01f));
        Assert.assertTrue(e.getMessage().contains("needs 40² Gram entries"), e.getMessage());
    }

    @Test
    public void theCodebookOrderDoesNotMatter() {
        float[] w = new float[ROWS * COLS];
        double[] h = new double[COLS * COLS];
        data(9, w, h);
        Shape shape = new Shape(ROWS, COLS);
        CompressedWeight grid = new RtnQuantizer().quantize(w, shape, settings(2, CodebookMode.MULTI));
        float[] books = grid.getCodebooks();
        float[] reversed = new float[books.length];
        int k = grid.codewords();
        for (int b = 0; b < books.length / k; b++) {
            for (int i = 0; i < k; i++) {
                reversed[b * k + i] = books[b * k + k - 1 - i];
            }
        }
        CompressedWeight shuffled =
                new CompressedWeight(shape, 2, grid.getMode(), grid.getGroups(), grid.getGroupOf(), reversed, null, grid.getIndices());
        Assert.assertEquals(
                Gptq.quantize(w, h, shuffled, 0.01f).decode(), Gptq.quantize(w, h, grid, 0.01f).decode(), 0f);
    }
}
