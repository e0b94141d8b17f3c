package ai.djl.jlcm.learn;

import ai.djl.jlcm.transform.ReplacedLayer;

import java.util.List;

/**
 * What calibrated compression did to a model.
 *
 * @param layers one report per layer compressed from calibration inputs (JLCM, GPTQ), in network
 *     order
 * @param dataFree the layers the plan gave a data-free method (RTN, KMEANS), compressed first
 * @param stages one report per stage of the model, in order
 * @param seconds the time of the calibrated pass
 * @param fineTune what end-to-end fine-tuning did, or null if there was none
 */
public record JlcmReport(
        List<LayerReport> layers, List<ReplacedLayer> dataFree, List<StageReport> stages, double seconds, FineTuneReport fineTune) {

    /**
     * Creates a report.
     *
     * @param layers the calibrated layers' reports
     * @param dataFree the data-free layers
     * @param stages the stage reports
     * @param seconds the total time
     * @param fineTune the fine-tuning report, or null
     */
    public JlcmReport {
        layers = List.copyOf(layers);
        dataFree = List.copyOf(dataFree);
        stages = List.copyOf(stages);
    }

    /**
     * Returns how many layers were compressed, calibrated and data-free.
     *
     * @return the layer count
     */
    public int layerCount() {
        return layers.size() + dataFree.size();
    }

    /**
     * Returns stored bits per weight over all compressed layers, data-free ones included, overhead
     * included.
     *
     * @return bits per weight
     */
    public double bitsPerWeight() {
        long bits = layers.stream().mapToLong(LayerReport::storedBits).sum() + dataFree.stream().mapToLong(ReplacedLayer::storedBits).sum();
        long weights = layers.stream().mapToLong(l -> l.shape().size()).sum() + dataFree.stream().mapToLong(ReplacedLayer::weights).sum();
        return weights == 0 ? 0 : (double) bits / weights;
    }
}
