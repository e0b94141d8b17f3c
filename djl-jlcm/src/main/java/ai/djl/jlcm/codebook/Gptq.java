package ai.djl.jlcm.codebook;

import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;

import java.util.stream.IntStream;

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
 * <p>With vector codebooks (GPTVQ, van Baalen et al. 2024) the {@code d} columns of a vector are
 * rounded together: each row's vector takes the codeword nearest under the distance that weights
 * column {@code j} by {@code 1/U_jj²} (the GPTQ error of rounding that column alone, {@code H⁻¹ =
 * UᵀU}), then the vector's columns spread their errors one after the other as scalar columns do,
 * which is the block update of the vector's error.
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
        float[][] levels = grid.getVectorLength() == 1 ? levels(grid, order) : rowBooks(grid);
        int[] indices = new int[rows * grid.indexCols()];
        int rowsPerGram = rows / grams.length;
        for (int g = 0; g < grams.length; g++) {
            round(w, grams[g], dampening, g * rowsPerGram, (g + 1) * rowsPerGram, cols, grid.getVectorLength(), levels, order, indices);
        }
        return new CompressedWeight(
                grid.getShape(),
                grid.getBits(),
                grid.getVectorLength(),
                grid.getMode(),
                grid.getGroups(),
                grid.getGroupOf(),
                grid.getCodebooks(),
                grid.getScales(),
                indices);
    }

    /**
     * GPTQ on rows {@code [from, to)} of {@code w} with one Gram: fills their indices, updates w. With
     * vectors of {@code d > 1} columns, {@code levels[row]} is the row's codebook (scaled) and {@code
     * order} is unused.
     */
    private static void round(
            double[] w, double[] gram, float dampening, int from, int to, int cols, int d, float[][] levels, int[][] order, int[] indices) {
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
        int block = BLOCK - BLOCK % d; // a vector never spans two blocks
        // d > 1: a vector's distance weights its column j by 1/U_jj², the error of rounding it alone
        double[] columnWeights = new double[cols];
        for (int j = 0; j < cols; j++) {
            columnWeights[j] = 1 / (u[j * cols + j] * u[j * cols + j]);
        }
        for (int i1 = 0; i1 < cols; i1 += block) {
            int start = i1;
            int i2 = Math.min(cols, i1 + block);
            // rows are independent given U: each runs the block's columns, then its lazy update,
            // in the same order whatever the thread, so the result does not depend on the threads
            IntStream.range(from, to).parallel().forEach(o -> {
                double[] err = new double[i2 - start];
                int base = o * cols;
                float[] lv = levels[o];
                int chosen = 0;
                for (int c = start; c < i2; c++) {
                    double v = w[base + c];
                    double e;
                    if (d == 1) {
                        int q = KMeans1d.nearest((float) v, lv);
                        indices[base + c] = order[o][q];
                        e = (v - lv[q]) / u[c * cols + c];
                    } else {
                        if (c % d == 0) {
                            chosen = nearestVector(w, base + c, lv, columnWeights, c, d);
                            indices[(base + c) / d] = chosen;
                        }
                        e = (v - lv[chosen * d + c % d]) / u[c * cols + c];
                    }
                    err[c - start] = e;
                    for (int j = c + 1; j < i2; j++) {
                        w[base + j] -= e * u[c * cols + j];
                    }
                }
                for (int c = start; c < i2 && i2 < cols; c++) {
                    double e = err[c - start];
                    if (e == 0) {
                        continue;
                    }
                    int urow = c * cols;
                    for (int j = i2; j < cols; j++) {
                        w[base + j] -= e * u[urow + j];
                    }
                }
            });
        }
    }

    /**
     * The codeword of {@code book} (codeword {@code q} at {@code q·d}) nearest to the vector at {@code
     * w[at, at + d)}, whose first column is {@code c}, under the distance that weights column {@code
     * j} by {@code weight[j]}.
     */
    private static int nearestVector(double[] w, int at, float[] book, double[] weight, int c, int d) {
        int best = 0;
        double bestDistance = Double.POSITIVE_INFINITY;
        for (int q = 0, at2 = 0; at2 < book.length; q++, at2 += d) {
            double dist = 0;
            for (int j = 0; j < d; j++) {
                double e = w[at + j] - book[at2 + j];
                dist += weight[c + j] * e * e;
            }
            if (dist < bestDistance) {
                bestDistance = dist;
                best = q;
            }
        }
        return best;
    }

    /** Each row's vector codebook, times its group's scale in SCALED mode: {@code k·d} values. */
    private static float[][] rowBooks(CompressedWeight grid) {
        int values = grid.codewords() * grid.getVectorLength();
        float[] books = grid.getCodebooks();
        float[] scales = grid.getScales();
        int[] groupOf = grid.getGroupOf();
        float[][] ofGroup = new float[grid.getGroups()][];
        for (int g = 0; g < ofGroup.length; g++) {
            int book = grid.getMode() == CodebookMode.MULTI ? g : 0;
            float s = grid.getMode() == CodebookMode.SCALED ? scales[g] : 1f;
            ofGroup[g] = new float[values];
            for (int i = 0; i < values; i++) {
                ofGroup[g][i] = books[book * values + i] * s;
            }
        }
        float[][] out = new float[grid.rows()][];
        for (int o = 0; o < out.length; o++) {
            out[o] = ofGroup[groupOf[o]]; // shared: the rows of a group select the same values
        }
        return out;
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
            int column = j;
            // the entries above the diagonal are independent: in parallel where the work is worth it
            IntStream rows = IntStream.range(0, j);
            (j * (long) (n - j) > 1 << 14 ? rows.parallel() : rows).forEach(i -> {
                double v = h[i * n + column];
                for (int k = column + 1; k < n; k++) {
                    v -= t[i * n + k] * t[column * n + k];
                }
                t[i * n + column] = v / d;
            });
        }
        // U = Ũ⁻¹, upper triangular: solve Ũ U = I column by column (independent), from the bottom
        double[] u = new double[n * n];
        IntStream.range(0, n).parallel().forEach(c -> {
            double[] col = new double[c + 1];
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
        });
        return u;
    }
}
