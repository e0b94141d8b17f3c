package ai.djl.jlcm.learn;

import java.util.List;

/**
 * What calibrated compression did to a model.
 *
 * @param layers one report per compressed layer, in network order
 * @param stages one report per stage of the model, in order
 * @param seconds the total time
 */
public record JlcmReport(List<LayerReport> layers, List<StageReport> stages, double seconds) {

    /**
     * Creates a report.
     *
     * @param layers the layer reports
     * @param stages the stage reports
     * @param seconds the total time
     */
    public JlcmReport {
        layers = List.copyOf(layers);
        stages = List.copyOf(stages);
    }

    /**
     * Returns stored bits per weight over all compressed layers, overhead included.
     *
     * @return bits per weight
     */
    public double bitsPerWeight() {
        long bits = layers.stream().mapToLong(LayerReport::storedBits).sum();
        long weights = layers.stream().mapToLong(l -> l.shape().size()).sum();
        return weights == 0 ? 0 : (double) bits / weights;
    }
}
