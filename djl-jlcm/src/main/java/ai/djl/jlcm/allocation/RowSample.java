package ai.djl.jlcm.allocation;

import java.util.ArrayList;
import java.util.List;

/**
 * The rows of a layer's weight that a sensitivity is measured on, each with the weight that makes a
 * sum over them an unbiased estimate of the sum over all rows.
 *
 * @param rows the row indices, ascending and distinct
 * @param weights each row's weight in the estimate
 * @param values the rows' values, row-major, or null if the sample holds only where they are
 * @param fisher the Fisher information of those values, row-major, or null
 */
record RowSample(int[] rows, double[] weights, float[] values, float[] fisher) {

    /**
     * Returns every row of a weight of at most {@code budget} values, else evenly spaced whole rows
     * {@code ⌊i·rows/n⌋} of at most {@code budget} values, each weighing {@code rows/n}.
     *
     * @param rows the weight's rows
     * @param cols the values per row
     * @param budget the most values sampled
     * @return the sample, without Fisher information
     */
    static RowSample evenlySpaced(long rows, long cols, int budget) {
        int n = (int) Math.max(1, Math.min(rows, budget / cols));
        int[] r = new int[n];
        double[] w = new double[n];
        for (int i = 0; i < n; i++) {
            r[i] = (int) ((long) i * rows / n);
            w[i] = (double) rows / n;
        }
        return new RowSample(r, w, null, null);
    }

    /**
     * Returns rows drawn with probability proportional to their mass (systematic sampling with
     * replacement of {@code n = min(rows, budget/cols)} draws, at the midpoints of {@code n} equal
     * slices of the cumulative mass), so that a row of large mass is sure to be in and rows of no mass
     * never are. A row drawn {@code c} times weighs {@code c·M/(n·m_row)}, {@code M} the total mass:
     * {@code Σ weight·x_row} over the sample estimates {@code Σ x_row} over all rows without bias for
     * any {@code x} that vanishes where the mass does (the Fisher-weighted error). Every row, each
     * weighing 1, if they fit the budget; none if the mass is zero.
     *
     * @param mass each row's mass, non-negative
     * @param cols the values per row
     * @param budget the most values sampled
     * @return the rows and weights, without Fisher information
     */
    static RowSample byMass(double[] mass, long cols, int budget) {
        int rows = mass.length;
        int n = (int) Math.max(1, Math.min(rows, budget / cols));
        if (n == rows) {
            int[] all = new int[rows];
            double[] ones = new double[rows];
            for (int i = 0; i < rows; i++) {
                all[i] = i;
                ones[i] = 1;
            }
            return new RowSample(all, ones, null, null);
        }
        double total = 0;
        for (double m : mass) {
            total += m;
        }
        List<Integer> picked = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        if (total > 0) {
            double slice = total / n;
            double next = slice / 2;
            double cumulative = 0;
            for (int i = 0; i < rows; i++) {
                cumulative += mass[i];
                int draws = 0;
                while (next < cumulative) {
                    draws++;
                    next += slice;
                }
                if (draws > 0) {
                    picked.add(i);
                    weights.add(draws * slice / mass[i]);
                }
            }
        }
        int[] r = new int[picked.size()];
        double[] w = new double[r.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = picked.get(i);
            w[i] = weights.get(i);
        }
        return new RowSample(r, w, null, null);
    }

    /**
     * Returns this sample with its rows' values and their Fisher information.
     *
     * @param rowValues the values, row-major over the sampled rows
     * @param rowFisher the Fisher information of each value
     * @return the sample with them
     */
    RowSample with(float[] rowValues, float[] rowFisher) {
        return new RowSample(rows, weights, rowValues, rowFisher);
    }
}
