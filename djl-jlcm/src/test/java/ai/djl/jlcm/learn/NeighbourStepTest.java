package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.Arrays;
import java.util.Random;

/**
 * Several moves per row and step on a quadratic loss {@code L_r = f_r·(ŵ_r − t_r) A (ŵ_r − t_r)ᵀ}
 * with a dense coupling {@code A}: the step takes exactly the moves of a greedy search that
 * evaluates the loss itself, and never ends above one move a step.
 */
public class NeighbourStepTest {

    private static final int ROWS = 5;
    private static final int COLS = 24;
    private static final int K = 4;
    private static final int MOVES = 4;

    private static double rowLoss(double[] w, float[] t, int row, double[][] a, float f) {
        double sum = 0;
        for (int i = 0; i < COLS; i++) {
            for (int j = 0; j < COLS; j++) {
                sum += (w[i] - t[row * COLS + i]) * a[i][j] * (w[j] - t[row * COLS + j]);
            }
        }
        return f * sum;
    }

    @Test
    public void severalMovesAreTheGreedySearchOfTheExactLoss() {
        Random r = new Random(3);
        // A = 2·vvᵀ + BᵀB/COLS + I/10: symmetric positive definite and dominated by one direction, as
        // the Gram of correlated inputs is, so that a move changes the other weights' best moves
        double[][] b = new double[COLS][COLS];
        for (double[] row : b) {
            for (int j = 0; j < COLS; j++) {
                row[j] = r.nextGaussian();
            }
        }
        double[] v = new double[COLS];
        for (int i = 0; i < COLS; i++) {
            v[i] = 1 + 0.3 * r.nextGaussian();
        }
        double[][] a = new double[COLS][COLS];
        float[] aFlat = new float[COLS * COLS];
        for (int i = 0; i < COLS; i++) {
            for (int j = 0; j < COLS; j++) {
                for (int l = 0; l < COLS; l++) {
                    a[i][j] += b[l][i] * b[l][j] / COLS;
                }
                a[i][j] += 2 * v[i] * v[j] + (i == j ? 0.1 : 0);
            }
        }
        for (int i = 0; i < COLS; i++) {
            for (int j = 0; j < COLS; j++) {
                a[i][j] = (float) a[i][j]; // what the engine sees
                aFlat[i * COLS + j] = (float) a[i][j];
            }
        }
        float[] books = new float[ROWS * K];
        float[] factor = new float[ROWS];
        float[] target = new float[ROWS * COLS];
        long[] index = new long[ROWS * COLS];
        for (int row = 0; row < ROWS; row++) {
            for (int c = 0; c < K; c++) {
                books[row * K + c] = -1.5f + c + 0.3f * (float) r.nextGaussian();
            }
            Arrays.sort(books, row * K, row * K + K);
            factor[row] = 0.5f + r.nextFloat();
            for (int n = 0; n < COLS; n++) {
                target[row * COLS + n] = 1.2f * (float) r.nextGaussian();
                index[row * COLS + n] = r.nextInt(K);
            }
        }
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray rows = m.create(books, new Shape(ROWS, K));
            NDArray idx = m.create(index, new Shape(ROWS, COLS));
            NDArray coupling = m.create(aFlat, new Shape(COLS, COLS));
            NDArray rowFactor = m.create(factor, new Shape(ROWS, 1));
            NDArray w = rows.gather(idx, 1);
            NDArray gradient = w.sub(m.create(target, new Shape(ROWS, COLS))).matMul(coupling).mul(rowFactor).mul(2f);
            NDArray kappa = m.create(diagonal(aFlat), new Shape(1, COLS)).mul(rowFactor);
            long[] several = NeighbourStep.step(gradient, rows, idx, kappa, coupling, rowFactor, MOVES).toLongArray();
            long[] one = NeighbourStep.step(gradient, rows, idx, kappa, null, null, MOVES).toLongArray();

            long blocks = NeighbourStep.candidateBlocks(COLS, 2L * MOVES);
            Assert.assertEquals(blocks, 8);
            int width = (int) (COLS / blocks);
            int movedRows = 0;
            for (int row = 0; row < ROWS; row++) {
                double[] now = new double[COLS];
                for (int n = 0; n < COLS; n++) {
                    now[n] = books[row * K + (int) index[row * COLS + n]];
                }
                double start = rowLoss(now, target, row, a, factor[row]);
                // candidates: the best single move's weight in each block of columns
                int[] candidates = new int[(int) blocks];
                for (int q = 0; q < blocks; q++) {
                    double best = Double.MAX_VALUE;
                    for (int n = q * width; n < (q + 1) * width; n++) {
                        double change = Math.min(moveChange(now, n, +1, books, index, row, target, a, factor), moveChange(now, n, -1, books, index, row, target, a, factor));
                        if (change < best) {
                            best = change;
                            candidates[q] = n;
                        }
                    }
                }
                long[] expected = Arrays.copyOfRange(index, row * COLS, (row + 1) * COLS);
                boolean[] used = new boolean[COLS];
                for (int move = 0; move < MOVES; move++) {
                    double best = 0;
                    int bestWeight = -1;
                    int bestDirection = 0;
                    for (int n : candidates) {
                        for (int dir : new int[] {+1, -1}) {
                            long to = expected[n] + dir;
                            if (used[n] || to < 0 || to >= K) {
                                continue;
                            }
                            double[] tried = now.clone();
                            tried[n] = books[row * K + (int) to];
                            double change = rowLoss(tried, target, row, a, factor[row]) - rowLoss(now, target, row, a, factor[row]);
                            if (change < best) {
                                best = change;
                                bestWeight = n;
                                bestDirection = dir;
                            }
                        }
                    }
                    if (bestWeight < 0) {
                        break;
                    }
                    expected[bestWeight] += bestDirection;
                    used[bestWeight] = true;
                    now[bestWeight] = books[row * K + (int) expected[bestWeight]];
                }
                for (int n = 0; n < COLS; n++) {
                    Assert.assertEquals(several[row * COLS + n], expected[n], "row " + row + ", weight " + n);
                }
                double[] single = new double[COLS];
                int changed = 0;
                for (int n = 0; n < COLS; n++) {
                    single[n] = books[row * K + (int) one[row * COLS + n]];
                    changed += several[row * COLS + n] != index[row * COLS + n] ? 1 : 0;
                }
                movedRows += changed > 1 ? 1 : 0;
                double after = rowLoss(now, target, row, a, factor[row]);
                Assert.assertTrue(after <= start, "row " + row + ": " + start + " -> " + after);
                Assert.assertTrue(after <= rowLoss(single, target, row, a, factor[row]) + 1e-9, "row " + row + " ends no higher than with one move");
            }
            Assert.assertTrue(movedRows > 0, "some row took several moves");
        }
    }

    /** The exact loss change of moving weight n one codeword up (+1) or down (−1); 0 past an edge, where no move is made. */
    private static double moveChange(double[] now, int n, int dir, float[] books, long[] index, int row, float[] target, double[][] a, float[] factor) {
        long to = index[row * COLS + n] + dir;
        if (to < 0 || to >= K) {
            return 0;
        }
        double[] tried = now.clone();
        tried[n] = books[row * K + (int) to];
        return rowLoss(tried, target, row, a, factor[row]) - rowLoss(now, target, row, a, factor[row]);
    }

    private static float[] diagonal(float[] square) {
        float[] d = new float[COLS];
        for (int i = 0; i < COLS; i++) {
            d[i] = square[i * COLS + i];
        }
        return d;
    }
}
