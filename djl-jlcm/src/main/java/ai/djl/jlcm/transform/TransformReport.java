package ai.djl.jlcm.transform;

import java.util.Collections;
import java.util.List;

/**
 * What a {@link CodebookTransformer} replaced.
 *
 * @param layers the replaced layers in tree order
 */
public record TransformReport(List<ReplacedLayer> layers) {

    /**
     * Creates a report.
     *
     * @param layers the replaced layers
     */
    public TransformReport {
        layers = Collections.unmodifiableList(List.copyOf(layers));
    }

    /**
     * Returns the number of weights of all replaced layers.
     *
     * @return the weight count
     */
    public long weights() {
        return layers.stream().mapToLong(ReplacedLayer::weights).sum();
    }

    /**
     * Returns the stored bits of all replaced layers.
     *
     * @return the stored bits
     */
    public long storedBits() {
        return layers.stream().mapToLong(ReplacedLayer::storedBits).sum();
    }

    /**
     * Returns stored bits per weight over all replaced layers, overhead included.
     *
     * @return bits per weight, or 0 when nothing was replaced
     */
    public double bitsPerWeight() {
        long w = weights();
        return w == 0 ? 0 : (double) storedBits() / w;
    }
}
