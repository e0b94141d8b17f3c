package ai.djl.jlcm.learn;

import ai.djl.jlcm.codebook.WeightQuantizer;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.jlcm.transform.ReplacedLayer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Compresses the selected layers of a block tree one at a time, in network order. For each layer it
 * records the layer's inputs on the calibration data twice, from the network whose earlier layers
 * are already compressed (X̃) and from the float network (X, with the earlier layers swapped back for
 * the pass), learns the layer's codebooks and mappings against the float output, and puts the
 * codebook block in place. Only one layer's activations are held at a time.
 */
public final class SequentialCompressor {

    private static final Logger logger = LoggerFactory.getLogger(SequentialCompressor.class);

    private final CodebookTransformer selection;
    private final LearningConfig config;

    /**
     * Creates a compressor.
     *
     * @param selection selects the layers (its quantizer is not used)
     * @param config the learning settings
     */
    public SequentialCompressor(CodebookTransformer selection, LearningConfig config) {
        this.selection = selection;
        this.config = config;
    }

    /**
     * Compresses the selected layers of an initialized block tree in place.
     *
     * @param root the root block
     * @param calibration unlabeled input batches, iterated once per layer and pass
     * @param manager the manager for temporary arrays
     * @return the per-layer report
     */
    public JlcmReport compress(Block root, Iterable<NDList> calibration, NDManager manager) {
        long start = System.nanoTime();
        List<String> paths = selection.selectedPaths(root);
        if (paths.isEmpty()) {
            throw new IllegalArgumentException("The layer selection matches no layer of the model");
        }
        Map<Block, Block> compressedToFloat = new LinkedHashMap<>();
        List<LayerReport> reports = new ArrayList<>();
        CodebookLearner learner = new CodebookLearner(config);
        for (int i = 0; i < paths.size(); i++) {
            long layerStart = System.nanoTime();
            String path = paths.get(i);
            Block layer = BlockTree.of(root).get(path);
            try (NDManager capture = manager.newSubManager()) {
                List<NDArray> compressedInputs = record(root, path, layer, calibration, capture);
                List<NDArray> floatInputs = compressedInputs;
                if (!compressedToFloat.isEmpty()) {
                    swap(root, compressedToFloat, true);
                    try {
                        floatInputs = record(root, path, layer, calibration, capture);
                    } finally {
                        swap(root, compressedToFloat, false);
                    }
                }
                NDArray weight = layer.getDirectParameters().get("weight").getArray();
                LayerResult result;
                try (ReconstructionLoss loss = loss(layer, weight, compressedInputs, floatInputs, capture)) {
                    result = learner.learn(capture, weight.toFloatArray(), weight.getShape(), loss);
                }
                ReplacedLayer replaced = put(root, path, result.weight());
                compressedToFloat.put(BlockTree.of(root).get(path), layer);
                double seconds = (System.nanoTime() - layerStart) / 1e9;
                reports.add(
                        new LayerReport(
                                path,
                                replaced.type(),
                                replaced.shape(),
                                replaced.bits(),
                                replaced.groups(),
                                replaced.mode(),
                                replaced.storedBits(),
                                result.initError(),
                                result.learnedError(),
                                result.codewordUsage(),
                                result.bestStep(),
                                seconds));
                double elapsed = (System.nanoTime() - start) / 1e9;
                logger.info(
                        String.format(
                                Locale.ROOT,
                                "[%d/%d] %s %s: error %.5f (k-means) -> %.5f (learned, step %d), %.0f%% codewords used, %.1f s, ETA %.0f s",
                                i + 1,
                                paths.size(),
                                path,
                                replaced.shape(),
                                result.initError(),
                                result.learnedError(),
                                result.bestStep(),
                                100 * result.codewordUsage(),
                                seconds,
                                elapsed / (i + 1) * (paths.size() - i - 1)));
            }
        }
        return new JlcmReport(reports, (System.nanoTime() - start) / 1e9);
    }

    private ReconstructionLoss loss(
            Block layer, NDArray weight, List<NDArray> compressedInputs, List<NDArray> floatInputs, NDManager m) {
        if (layer instanceof Linear) {
            return new LinearReconstruction(m, weight, compressedInputs, floatInputs, config.dampening());
        }
        Parameter bias = layer.getDirectParameters().contains("bias") ? layer.getDirectParameters().get("bias") : null;
        return new ConvolutionReconstruction(
                m, (Convolution) layer, weight, bias == null ? null : bias.getArray(), compressedInputs, floatInputs);
    }

    /** Runs the calibration data through the tree with a recorder in place of the layer. */
    static List<NDArray> record(
            Block root, String path, Block layer, Iterable<NDList> calibration, NDManager capture) {
        List<NDArray> sink = new ArrayList<>();
        Block recorder = InputRecorder.wrap(layer, sink, capture);
        BlockTree tree = BlockTree.of(root);
        tree.checkReplaceable(layer, recorder, path);
        tree.replace(layer, recorder);
        try {
            for (NDList batch : calibration) {
                try (NDManager step = capture.newSubManager()) {
                    NDList input = new NDList();
                    for (NDArray a : batch) {
                        NDArray copy = a.duplicate();
                        copy.attach(step);
                        input.add(copy);
                    }
                    root.forward(new ParameterStore(step, false), input, false);
                }
            }
        } finally {
            BlockTree.of(root).replace(recorder, layer);
        }
        if (sink.isEmpty()) {
            throw new IllegalArgumentException(
                    "Layer '" + path + "' saw no calibration input: is the calibration data empty?");
        }
        return sink;
    }

    /** Swaps the compressed layers for their float originals, or back. */
    private static void swap(Block root, Map<Block, Block> compressedToFloat, boolean toFloat) {
        for (Map.Entry<Block, Block> e : compressedToFloat.entrySet()) {
            BlockTree tree = BlockTree.of(root);
            if (toFloat) {
                tree.replace(e.getKey(), e.getValue());
            } else {
                tree.replace(e.getValue(), e.getKey());
            }
        }
    }

    /** Puts a codebook block holding {@code weight} at {@code path}. */
    private ReplacedLayer put(Block root, String path, CompressedWeight weight) {
        WeightQuantizer fixed =
                new WeightQuantizer() {
                    @Override
                    public CompressedWeight quantize(float[] w, Shape shape, int bits) {
                        return weight;
                    }

                    @Override
                    public String name() {
                        return "jlcm";
                    }
                };
        List<ReplacedLayer> replaced =
                CodebookTransformer.builder()
                        .setQuantizer(fixed)
                        .optBits(weight.getBits())
                        .optPathFilter(path::equals)
                        .build()
                        .transform(root)
                        .layers();
        if (replaced.size() != 1 || !(BlockTree.of(root).get(path) instanceof CodebookBlock)) {
            throw new IllegalStateException("Layer '" + path + "' was not replaced");
        }
        return replaced.get(0);
    }
}
