package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.codebook.KMeansQuantizer;
import ai.djl.jlcm.codebook.RtnQuantizer;
import ai.djl.jlcm.codebook.WeightQuantizer;
import ai.djl.jlcm.nn.CodebookMode;

/** The compression methods the CLI offers. */
enum Method {
    /** Uniform per-channel min-max rounding. */
    RTN,
    /** k-means codebooks over contiguous channel groups (one group: one codebook per tensor). */
    KMEANS,
    /** JLCM: distribution-based neuron groups, weighted k-means, joint learning on calibration data. */
    JLCM;

    WeightQuantizer quantizer(int groups, CodebookMode mode) {
        if (this == RTN) {
            return new RtnQuantizer();
        }
        return KMeansQuantizer.builder().optGroups(groups).optMode(mode).build();
    }

    String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
