package ai.djl.jlcm.learn;

/**
 * Estimates the time a layer-by-layer compression has left from the layers done so far. A layer
 * costs a fixed part (its recording pass, engine calls, the k-means start) and a part that grows
 * with its weights. Layer sizes differ by a thousand times within one model: BERT's word table
 * holds 23 M weights and its bias-sized layers a few hundred thousand, and the MNIST CNN's first
 * convolution 400 weights of 207 K. So neither a count of layers nor a count of weights alone
 * predicts the rest. Both parts are fitted by least squares, neither allowed below zero. The
 * estimate is unknown until two layers of different sizes are done, and while the layers left are
 * on average larger than every layer done: the per-weight part is then an extrapolation from small
 * layers (two convolutions of a few thousand weights predicted 10 times the MNIST CNN's real rest).
 */
final class RemainingTime {

    private int layers;
    private long largest;
    private double sumW;
    private double sumWW;
    private double sumT;
    private double sumWT;

    /**
     * Adds a finished layer.
     *
     * @param weights its weights
     * @param seconds the time it took
     */
    void add(long weights, double seconds) {
        layers++;
        largest = Math.max(largest, weights);
        sumW += weights;
        sumWW += (double) weights * weights;
        sumT += seconds;
        sumWT += weights * seconds;
    }

    /**
     * Returns the time the remaining layers are predicted to take, in the same unit as the times
     * added.
     *
     * @param layersLeft the layers left
     * @param weightsLeft their weights in all
     * @return the estimate (0 when no layer is left), or {@code NaN} while the two parts cannot be
     *     told apart or the layers left are larger on average than every layer done
     */
    double estimate(int layersLeft, long weightsLeft) {
        if (layersLeft == 0) {
            return 0;
        }
        double spread = layers * sumWW - sumW * sumW;
        if (layers < 2 || spread <= 1e-9 * layers * sumWW || largest < (double) weightsLeft / layersLeft) {
            return Double.NaN;
        }
        double perWeight = (layers * sumWT - sumW * sumT) / spread;
        double perLayer = (sumT - perWeight * sumW) / layers;
        if (perWeight < 0) {
            perWeight = 0;
            perLayer = sumT / layers;
        } else if (perLayer < 0) {
            perLayer = 0;
            perWeight = sumWT / sumWW;
        }
        return perLayer * layersLeft + perWeight * weightsLeft;
    }

    /**
     * Formats an estimate for a progress line.
     *
     * @param seconds the estimate in seconds, or {@code NaN}
     * @return for example {@code "ETA 42 s"}, or {@code "ETA unknown"}
     */
    static String format(double seconds) {
        return Double.isNaN(seconds) ? "ETA unknown" : String.format(java.util.Locale.ROOT, "ETA %.0f s", seconds);
    }
}
