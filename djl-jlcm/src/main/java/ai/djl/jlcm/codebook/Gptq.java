package ai.djl.jlcm.codebook;

import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;

/**
 * GPTQ (Frantar et al., ICLR 2023) rounding onto a given grid: the columns of a weight are rounded
 * one after the other, and each column's rounding error is spread over the columns not yet rounded
 * through the inverse Hessian of the layer's inputs, {@code H = XᵀX}, so that the layer's output on
 * its calibration inputs changes least. Lazy batch updates in blocks of columns, dampening {@code
 * λ·mean(diag H)} on the diagonal, dead inputs (zero diagonal) zeroed, as in the reference
 * implementation's {@code gptq.py}.
 *
 * <p>The grid is the one of a {@link CompressedWeight} (its codebooks, scales and neuron groups):
 * RTN's per-row uniform levels give classic GPTQ, grouped k-means codebooks give GPTQ onto the same
 * storage as JLCM. Only the indices are chosen here; the grid is kept.
 *
 * <p>A convolution's weight is taken flattened to {@code [filters, C/groups·k…]} with X its unfolded
 * input patches (im2col), as {@code gptq.py} does with {@code nn.Unfold}; a grouped (depthwise)
 * convolution has one Gram per channel group, for the filters that read it.
 */
public final class Gptq {

    private static final int BLOCK = 128;

    private Gptq() {}

    /**
     * Rounds a weight onto a grid, with one Gram matrix for all rows.
     *
     * @param weight the dense weight, row-major {@code [rows][cols]}
     * @param gram {@code XᵀX} of the layer's calibration inputs, row-major {@code [cols][cols]}
     * @param grid the grid: codebooks, scales and groups of the result (its indices are ignored)
     * @param dampening λ, the fraction of the mean diagonal added to the diagonal (GPTQ's 0.01)
     * @return the weight with the grid's codebooks and GPTQ's indices
     * @throws IllegalArgumentException if the sizes do not match, or the dampened Gram is not
     *     positive definite
     */
    public static CompressedWeight quantize(float[] weight, double[] gram, CompressedWeight grid, float dampening) {
        return quantize(weight, new double[][] {gram}, grid, dampening);
    }

    /**
     * Rounds a weight onto a grid, with one Gram matrix per block of rows: a grouped convolution's
     * filters of channel group {@code g} read only that group's input channels, so rows {@code
     * [g·rows/G, (g+1)·rows/G)} are rounded with {@code grams[g]} ({@code G = grams.length}).
     *
     * @param weight the dense weight, row-major {@code [rows][cols]}
     * @param grams {@code XᵀX} of each row block's calibration inputs, row-major {@code [cols][cols]}
     * @param grid the grid: codebooks, scales and groups of the result (its indices are ignored)
     * @param dampening λ, the fraction of each Gram's mean diagonal added to its diagonal (GPTQ's 0.01)
     * @return the weight with the grid's codebooks and GPTQ's indices
     * @throws IllegalArgumentException if the sizes do not match, {@code G} does not divide the
     *     rows, or a dampened Gram is not positive definite
     */
    public static CompressedWeight quantize(float[] weight, double[][] grams, CompressedWeight grid, float dampening) {
        int rows = grid.rows();
        int cols = grid.cols();
        boolean sized = grams.length > 0 && rows % grams.length == 0 && weight.length == rows * cols;
        for (double[] gram : grams) {
            sized &= gram.length == (long) cols * cols;
        }
        if (!sized) {
            throw new IllegalArgumentException(
                    "GPTQ: a " + rows + "×" + cols + " weight needs " + cols + "² Gram entries per block of rows (a divisor of "
                            + rows + " blocks), got " + weight.length + " weights and " + grams.length + " Grams of "
                            + (grams.length == 0 ? 0 : grams[0].length) + " entries");
        }
        double[] w = new double[weight.length];
        for (int i = 0; i < w.length; i++) {
            w[i] = weight[i];
        }
        int[][] order = new int[rows][];
        float[][] levels = levels(grid, order);
        int[] indices = new int[rows * cols];
        int rowsPerGram = rows / grams.length;
        for (int g = 0; g < grams.length; g++) {
            round(w, grams[g], dampening, g * rowsPerGram, (g + 1) * rowsPerGram, cols, levels, order, indices);
        }
        return new CompressedWeight(
                grid.getShape(),
                grid.getBits(),
                grid.getMode(),
                grid.getGroups(),
                grid.getGroupOf(),
                grid.getCodebooks(),
                grid.getScales(),
                indices);
    }

    /** GPTQ on rows {@code [from, to)} of {@code w} with one Gram: fills their indices, updates w. */
    private static void round(
            double[] w, double[] gram, float dampening, int from, int to, int cols, float[][] levels, int[][] order, int[] indices) {
        double[] h = gram.clone();
        double meanDiag = 0;
        for (int j = 0; j < cols; j++) {
            if (h[j * cols + j] == 0) {
                h[j * cols + j] = 1;
                for (int o = from; o < to; o++) {
                    w[o * cols + j] = 0;
                }
            }
            meanDiag += h[j * cols + j];
        }
        meanDiag /= cols;
        for (int j = 0; j < cols; j++) {
            h[j * cols + j] += dampening * meanDiag;
        }
        double[] u = upperCholeskyOfInverse(h, cols);
        double[] err = new double[(to - from) * BLOCK];
        for (int i1 = 0; i1 < cols; i1 += BLOCK) {
            int i2 = Math.min(cols, i1 + BLOCK);
            int count = i2 - i1;
            for (int i = 0; i < count; i++) {
                int c = i1 + i;
                double d = u[c * cols + c];
                for (int o = from; o < to; o++) {
                    double v = w[o * cols + c];
                    float[] lv = levels[o];
                    int q = KMeans1d.nearest((float) v, lv);
                    indices[o * cols + c] = order[o][q];
                    double e = (v - lv[q]) / d;
                    err[(o - from) * BLOCK + i] = e;
                    int base = o * cols;
                    for (int j = c + 1; j < i2; j++) {
                        w[base + j] -= e * u[c * cols + j];
                    }
                }
            }
            if (i2 < cols) {
                for (int o = from; o < to; o++) {
                    int base = o * cols;
                    for (int i = 0; i < count; i++) {
                        double e = err[(o - from) * BLOCK + i];
                        if (e == 0) {
                            continue;
                        }
                        int urow = (i1 + i) * cols;
                        for (int j = i2; j < cols; j++) {
                            w[base + j] -= e * u[urow + j];
                        }
                    }
                }
            }
        }
    }

    /**
     * The values each row's indices select (its codebook, times its group's scale in SCALED mode),
     * sorted ascending; {@code order[row][i]} is the codebook index of sorted value {@code i}.
     */
    private static float[][] levels(CompressedWeight grid, int[][] order) {
        int k = grid.codewords();
        float[] books = grid.getCodebooks();
        float[] scales = grid.getScales();
        int[] groupOf = grid.getGroupOf();
        float[][] levels = new float[grid.rows()][];
        for (int o = 0; o < levels.length; o++) {
            int book = grid.getMode() == CodebookMode.MULTI ? groupOf[o] : 0;
            float s = grid.getMode() == CodebookMode.SCALED ? scales[groupOf[o]] : 1f;
            Integer[] byValue = new Integer[k];
            for (int i = 0; i < k; i++) {
                byValue[i] = i;
            }
            final int base = book * k;
            java.util.Arrays.sort(byValue, (a, b) -> Float.compare(books[base + a] * s, books[base + b] * s));
            float[] lv = new float[k];
            order[o] = new int[k];
            for (int i = 0; i < k; i++) {
                lv[i] = books[base + byValue[i]] * s;
                order[o][i] = byValue[i];
            }
            levels[o] = lv;
        }
        return levels;
    }

    /**
     * Returns the upper triangular {@code U} with {@code H⁻¹ = UᵀU}. With {@code J} the order
     * reversal, the Cholesky factor {@code L} of {@code JHJ} gives {@code H = ŨŨᵀ} with {@code Ũ =
     * JLJ} upper triangular, so {@code H⁻¹ = Ũ⁻ᵀŨ⁻¹} and {@code U = Ũ⁻¹}: one Cholesky and one
     * triangular inverse, no general inverse.
     */
    static double[] upperCholeskyOfInverse(double[] h, int n) {
        // upper factor Ũ of H = Ũ Ũᵀ, computed from the last row up (Cholesky of the reversed matrix)
        double[] t = new double[n * n];
        for (int j = n - 1; j >= 0; j--) {
            double s = h[j * n + j];
            for (int k = j + 1; k < n; k++) {
                s -= t[j * n + k] * t[j * n + k];
            }
            if (!(s > 0)) {
                throw new IllegalArgumentException(
                        "GPTQ: the dampened Gram matrix is not positive definite (column " + j + "); raise the dampening");
            }
            double d = Math.sqrt(s);
            t[j * n + j] = d;
            for (int i = j - 1; i >= 0; i--) {
                double v = h[i * n + j];
                for (int k = j + 1; k < n; k++) {
                    v -= t[i * n + k] * t[j * n + k];
                }
                t[i * n + j] = v / d;
            }
        }
        // U = Ũ⁻¹, upper triangular: solve Ũ U = I column by column, from the bottom
        double[] u = new double[n * n];
        double[] col = new double[n];
        for (int c = 0; c < n; c++) {
            col[c] = 1 / t[c * n + c];
            for (int i = c - 1; i >= 0; i--) {
                double v = 0;
                for (int k = i + 1; k <= c; k++) {
                    v += t[i * n + k] * col[k];
                }
                col[i] = -v / t[i * n + i];
            }
            for (int k = 0; k <= c; k++) {
                u[k * n + c] = col[k];
            }
        }
        return u;
    }
}
