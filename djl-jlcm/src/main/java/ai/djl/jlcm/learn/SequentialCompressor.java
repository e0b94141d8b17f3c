package ai.djl.jlcm.learn;

import ai.djl.jlcm.export.Digests;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.jlcm.pipeline.FloatSource;
import ai.djl.jlcm.pipeline.ResidentMemory;
import ai.djl.jlcm.pipeline.Stage;
import ai.djl.jlcm.pipeline.Stages;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.jlcm.transform.ReplacedLayer;
import ai.djl.jlcm.transform.Replacements;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Compresses the selected layers of a block tree in network order, stage by stage ({@link
 * Stages#of(Block)}: a {@link ai.djl.jlcm.pipeline.StagedBlock}'s stages, a {@code SequentialBlock}'s
 * children, or the whole model as one stage). Calibration activations are held only at the current
 * stage's input, as two streams: X̃ from the stages already compressed and X from the float stages.
 * Each layer (or reconstruction unit: a block holding several selected layers, learned together) of
 * the stage has its inputs recorded from those streams by running the stage only (the earlier layers
 * of the stage swapped back to float for X), is learned against the float output on X, and is
 * replaced by a codebook block. Both streams then advance through the stage, and the float originals
 * that no later stage runs are freed.
 */
public final class SequentialCompressor {

    private static final Logger logger = LoggerFactory.getLogger(SequentialCompressor.class);

    private final CompressionPlan plan;
    private final Predicate<String> units;
    private final boolean staged;
    private final Path workDir;
    private final FloatSource source;
    private final ai.djl.util.Progress bar;
    /** The settings of the layers being compressed, by path. */
    private Map<String, LayerSettings> settings;
    /** Time spent in calibration passes in the current stage. */
    private long recordNanos;
    /** The manager of the float outputs to keep, or null to keep none. */
    private NDManager outputManager;
    private List<NDList> floatOutputs;

    /**
     * Creates a compressor.
     *
     * @param plan selects the layers and gives each its settings; this compressor compresses those
     *     whose method is calibrated (JLCM, GPTQ), with the learner of their method
     * @param units accepts the paths of blocks to use as reconstruction units (the outermost accepted
     *     block on a layer's path is its unit; the root's path is empty); layers in no unit are
     *     learned one by one
     * @param staged whether to walk the model's stages ({@link Stages#of(Block)}) with activations
     *     held at stage boundaries, or to run every recording pass from the network's input
     * @param workDir where to keep a checkpoint after each finished stage and resume from one, or
     *     null for none
     * @param source where the float parameters are read from stage by stage, or null when the tree
     *     holds them all
     * @param bar a progress bar reset for each stage, or null
     */
    public SequentialCompressor(
            CompressionPlan plan, Predicate<String> units, boolean staged, Path workDir, FloatSource source, ai.djl.util.Progress bar) {
        this.plan = plan;
        this.units = units;
        this.staged = staged;
        this.workDir = workDir;
        this.source = source;
        this.bar = bar;
    }

    /**
     * Keeps the float stream's outputs of the next {@link #compress}: the last stage is also run on the
     * float stream (the float originals of its compressed layers put back for it), and the outputs,
     * one per calibration batch, are kept in a checkpoint when there is one and returned by {@link
     * #floatOutputs()}. They are the float model's outputs except for the layers a data-free method
     * compressed before this pass. End-to-end fine-tuning uses them as its target.
     *
     * @param owner the manager of the outputs
     * @return this compressor
     */
    public SequentialCompressor keepFloatOutputs(NDManager owner) {
        this.outputManager = owner;
        return this;
    }

    /**
     * Refuses a work directory that cannot give {@link #keepFloatOutputs} its outputs: one holding
     * the checkpoint of a finished run that kept none (it ran without fine-tuning). Callers check
     * it before they change the model, since that run would only be found out once its stages are
     * restored into the tree.
     *
     * @param workDir the work directory, or null for none
     * @throws IllegalArgumentException if it holds such a checkpoint
     * @throws UncheckedIOException if its manifest cannot be read
     */
    public static void checkKeepsFloatOutputs(Path workDir) {
        if (workDir == null) {
            return;
        }
        try {
            if (StageCheckpoint.finishedWithoutOutputs(workDir)) {
                throw new IllegalArgumentException(
                        "The checkpoint in " + workDir + " is of a finished run that kept no float outputs (it ran"
                                + " without fine-tuning); fine-tuning needs them: use another work directory");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Returns the float outputs kept by the last {@link #compress} ({@link #keepFloatOutputs}).
     *
     * @return one output per calibration batch, or null if none were kept
     */
    public List<NDList> floatOutputs() {
        return floatOutputs;
    }

    /**
     * Compresses the selected layers of an initialized block tree in place, stage by stage.
     *
     * @param root the root block
     * @param calibration unlabeled input batches of the root
     * @param manager the manager for temporary arrays
     * @return the per-layer report
     */
    public JlcmReport compress(Block root, Iterable<NDList> calibration, NDManager manager) {
        long start = System.nanoTime();
        settings = new LinkedHashMap<>(CodebookTransformer.builder().optPlan(plan).build().selectedLayers(root));
        settings.values().removeIf(s -> !s.getMethod().isCalibrated());
        List<String> paths = new ArrayList<>(settings.keySet());
        if (paths.isEmpty()) {
            throw new IllegalArgumentException("The layer selection matches no layer of the model with a calibrated method");
        }
        for (String path : paths) {
            if (unitOf(path) != null && settings.get(path).getMethod() != Method.JLCM) {
                throw new IllegalArgumentException(
                        "Layer '" + path + "': " + settings.get(path).getMethod().label()
                                + " rounds layer by layer; reconstruction units apply to JLCM learning");
            }
        }
        List<Stage> stages = staged ? Stages.of(root) : List.of(Stages.whole(root));
        if (stages.size() > 1 && unitSpansStages(paths, stages)) {
            logger.info("A reconstruction unit spans several stages: compressing the model as one stage");
            stages = List.of(Stages.whole(root));
        }
        List<List<String>> stagePaths = assign(paths, stages);
        List<NDList> calibrationList = list(calibration);
        StageCheckpoint checkpoint = openCheckpoint(root, stages, stagePaths, calibrationList);
        Progress progress = new Progress(root, paths, start, bar);
        Map<Block, Block> floatOf = new LinkedHashMap<>();
        List<LayerReport> reports = new ArrayList<>();
        List<StageReport> stageReports = new ArrayList<>();
        NDManager streams = manager.newSubManager();
        try {
            List<NDList> compressedStream = calibrationList;
            List<NDList> floatStream = compressedStream;
            int first = checkpoint == null ? 0 : checkpoint.finished();
            if (first > 0) {
                for (int s = 0; s < first; s++) {
                    load(stages.get(s));
                    checkpoint.restoreStage(s, root, stagePaths.get(s), floatOf);
                }
                reports.addAll(checkpoint.layerReports());
                stageReports.addAll(checkpoint.stageReports());
                if (first < stages.size()) {
                    List<List<NDList>> restored = checkpoint.restoreStreams(streams);
                    compressedStream = restored.get(0);
                    floatStream = restored.get(1);
                    release(floatOf, stages.subList(first, stages.size()), root);
                } else if (outputManager != null) {
                    floatOutputs = checkpoint.restoreOutputs(outputManager);
                }
                reports.forEach(progress::restored);
                logger.info("Resuming from the checkpoint in {}: {} of {} stages done", workDir, first, stages.size());
            }
            for (int s = first; s < stages.size(); s++) {
                Stage stage = stages.get(s);
                load(stage);
                // recordings run from this stage to the last stage that runs one of its layers, and stop
                // once the layer has its inputs: a layer called by a later stage (BERT's word table, the
                // tied MLM decoder) is still seen; the stages after this one are loaded for the pass only
                List<Stage> reach = stages.subList(s, lastRunner(stages, s, stagePaths.get(s)) + 1);
                Block recorder = stages.size() == 1 ? root : new StageRunner(reach, source);
                Block runner = stages.size() == 1 ? root : new StageRunner(List.of(stage), source);
                long stageStart = System.nanoTime();
                recordNanos = 0;
                progress.startStage(stage.name(), stagePaths.get(s));
                List<LayerReport> stageLayers =
                        compressStage(root, stagePaths.get(s), recorder, compressedStream, floatStream, manager, floatOf, progress);
                progress.endStage();
                reports.addAll(stageLayers);
                long learned = System.nanoTime();
                boolean last = s + 1 == stages.size();
                if (last && outputManager != null) {
                    floatOutputs = floatOutputs(runner, floatStream, compressedStream, floatOf, root);
                }
                if (!last) {
                    NDManager next = manager.newSubManager();
                    List<NDList> nextCompressed = StageRunner.advance(runner, compressedStream, next);
                    List<NDList> nextFloat;
                    if (floatOf.isEmpty() && floatStream == compressedStream) {
                        nextFloat = nextCompressed;
                    } else {
                        swap(root, floatOf, true);
                        try {
                            nextFloat = StageRunner.advance(runner, floatStream, next);
                        } finally {
                            swap(root, floatOf, false);
                        }
                    }
                    streams.close();
                    streams = next;
                    compressedStream = nextCompressed;
                    floatStream = nextFloat;
                    release(floatOf, stages.subList(s + 1, stages.size()), root);
                }
                StageReport sr =
                        new StageReport(
                                stage.name(),
                                stagePaths.get(s).size(),
                                recordNanos / 1e9,
                                (learned - stageStart - recordNanos) / 1e9,
                                (System.nanoTime() - learned) / 1e9,
                                ResidentMemory.peakBytes());
                stageReports.add(sr);
                if (checkpoint != null) {
                    if (last) {
                        checkpoint.write(s, root, stageLayers, sr, floatOutputs, floatOutputs);
                    } else {
                        checkpoint.write(s, root, stageLayers, sr, compressedStream, floatStream);
                    }
                }
                if (sr.layers() > 0) {
                    logger.info(
                            String.format(
                                    Locale.ROOT,
                                    "Stage %d/%d %s: %d layers; recording %.1f s, learning %.1f s, propagation %.1f s; peak resident %.0f MB",
                                    s + 1,
                                    stages.size(),
                                    stage.name(),
                                    sr.layers(),
                                    sr.recordSeconds(),
                                    sr.learnSeconds(),
                                    sr.propagateSeconds(),
                                    sr.peakResidentBytes() / 1e6));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            streams.close();
        }
        return new JlcmReport(reports, List.of(), stageReports, (System.nanoTime() - start) / 1e9, null);
    }

    /** Runs the float stream through the last stage with its layers' float originals in place. */
    private List<NDList> floatOutputs(
            Block runner, List<NDList> floatStream, List<NDList> compressedStream, Map<Block, Block> floatOf, Block root) {
        if (floatOf.isEmpty() && floatStream == compressedStream) {
            return StageRunner.advance(runner, compressedStream, outputManager);
        }
        swap(root, floatOf, true);
        try {
            return StageRunner.advance(runner, floatStream, outputManager);
        } finally {
            swap(root, floatOf, false);
        }
    }

    /** Opens the work directory's checkpoint for this run, or returns null without a work directory. */
    private StageCheckpoint openCheckpoint(Block root, List<Stage> stages, List<List<String>> stagePaths, List<NDList> calibration) {
        if (workDir == null) {
            return null;
        }
        List<String> names = new ArrayList<>();
        List<List<String>> work = new ArrayList<>();
        for (int s = 0; s < stages.size(); s++) {
            names.add(stages.get(s).name());
            work.add(new ArrayList<>(workItems(stagePaths.get(s)).keySet()));
        }
        try {
            String floats = source != null ? source.digest() : parameterDigest(root);
            return StageCheckpoint.open(workDir, StageCheckpoint.identity(plan.toString(), names, work, calibration, floats));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The SHA-256 of every parameter of a tree that holds them all: names, shapes, types and values. */
    private static String parameterDigest(Block root) {
        MessageDigest md = Digests.newSha256();
        for (Pair<String, Parameter> p : root.getParameters()) {
            NDArray a = p.getValue().getArray();
            md.update((p.getKey() + " " + a.getDataType() + " " + a.getShape() + "\n").getBytes(StandardCharsets.UTF_8));
            md.update(a.toByteArray());
        }
        return Digests.hex(md.digest());
    }

    /** Loads a stage's float parameters from the source, if there is one. */
    private void load(Stage stage) throws IOException {
        if (source != null) {
            source.load(stage);
        }
    }

    /** The index of the last stage from {@code s} on that runs (or owns) one of stage s's layers. */
    private static int lastRunner(List<Stage> stages, int s, List<String> paths) {
        int last = s;
        for (int t = s + 1; t < stages.size(); t++) {
            for (String path : paths) {
                if (stages.get(t).runs(path)) {
                    last = t;
                }
            }
        }
        return last;
    }

    private boolean unitSpansStages(List<String> paths, List<Stage> stages) {
        for (String path : paths) {
            String unit = unitOf(path);
            if (unit != null && stages.stream().noneMatch(s -> s.owns(unit))) {
                return true;
            }
        }
        return false;
    }

    /** The selected paths of each stage, in network order; every path must belong to one stage. */
    private static List<List<String>> assign(List<String> paths, List<Stage> stages) {
        List<List<String>> out = new ArrayList<>();
        for (int i = 0; i < stages.size(); i++) {
            out.add(new ArrayList<>());
        }
        for (String path : paths) {
            int owner = -1;
            for (int i = 0; i < stages.size(); i++) {
                if (stages.get(i).owns(path)) {
                    if (owner >= 0) {
                        throw new IllegalArgumentException(
                                "Layer '" + path + "' is owned by two stages: " + stages.get(owner).name() + " and " + stages.get(i).name());
                    }
                    owner = i;
                }
            }
            if (owner < 0) {
                throw new IllegalArgumentException("Layer '" + path + "' belongs to no stage of the model");
            }
            out.get(owner).add(path);
        }
        return out;
    }

    private static List<NDList> list(Iterable<NDList> batches) {
        List<NDList> out = new ArrayList<>();
        for (NDList b : batches) {
            out.add(b);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("The calibration data is empty");
        }
        return out;
    }

    /**
     * Forgets the float originals of compressed layers that no later stage runs, and frees their
     * weights: they are not needed for the float stream any more.
     */
    private static void release(Map<Block, Block> floatOf, List<Stage> later, Block root) {
        BlockTree tree = BlockTree.of(root);
        Map<Block, String> pathOf = new java.util.IdentityHashMap<>();
        tree.blocks().forEach((path, block) -> pathOf.put(block, path));
        floatOf.entrySet().removeIf(e -> {
            String path = pathOf.get(e.getKey());
            for (Stage s : later) {
                if (path != null && s.runs(path)) {
                    return false;
                }
            }
            // the weight only: the codebook block may hold the very same bias array
            Parameter weight = e.getValue().getDirectParameters().get("weight");
            if (weight.isInitialized()) {
                weight.getArray().close();
            }
            return true;
        });
    }

    /** Compresses the selected layers of one stage, from the stage's two input streams. */
    private List<LayerReport> compressStage(
            Block root,
            List<String> paths,
            Block runner,
            List<NDList> compressedStream,
            List<NDList> floatStream,
            NDManager manager,
            Map<Block, Block> floatOf,
            Progress progress) {
        List<Map.Entry<String, List<String>>> work = new ArrayList<>(workItems(paths).entrySet());
        List<LayerReport> reports = new ArrayList<>();
        int next = 0;
        while (next < work.size()) {
            Map.Entry<String, List<String>> item = work.get(next);
            long itemStart = System.nanoTime();
            List<LayerReport> r;
            try (NDManager capture = manager.newSubManager()) {
                Streams in = new Streams(runner, compressedStream, floatStream);
                if (item.getKey().startsWith("layer:")) {
                    List<String> candidates = new ArrayList<>();
                    for (int i = next; i < work.size() && work.get(i).getKey().startsWith("layer:"); i++) {
                        candidates.add(work.get(i).getValue().get(0));
                    }
                    r = compressLayers(root, candidates, in, capture, floatOf);
                    next += r.size();
                } else {
                    r = compressUnit(root, item.getKey().substring(5), item.getValue(), in, capture, floatOf);
                    next++;
                }
            }
            // DJL's PyTorch arrays made from Java data keep their memory in direct buffers that only a
            // garbage collection frees: a layer drops hundreds of MB of them (its float weight, the
            // latents, the codebook block's arrays), which would stay resident until the next one
            System.gc();
            double seconds = (System.nanoTime() - itemStart) / 1e9;
            for (LayerReport l : r) {
                LayerReport timed = withSeconds(l, seconds / r.size());
                reports.add(timed);
                progress.done(timed);
            }
        }
        return reports;
    }

    /** A stage's runner and its two input streams; the float one is the compressed one until they part. */
    private record Streams(Block runner, List<NDList> compressed, List<NDList> floats) {
        boolean same() {
            return compressed == floats;
        }
    }

    /**
     * Progress with an ETA from the layers and weights left ({@link RemainingTime}), scaled by the
     * share of the elapsed time that the layers themselves took (the rest: stages' propagation), as
     * log lines and on an optional progress bar reset for each stage.
     */
    private static final class Progress {
        private final long start;
        private final long totalWeights;
        private final int totalLayers;
        private final ai.djl.util.Progress bar;
        private final BlockTree tree;
        private long doneWeights;
        private long stageDone;
        private int doneLayers;
        private double layerSeconds;
        private final RemainingTime remaining = new RemainingTime();

        Progress(Block root, List<String> paths, long start, ai.djl.util.Progress bar) {
            this.start = start;
            this.bar = bar;
            tree = BlockTree.of(root);
            totalWeights = weights(paths);
            totalLayers = paths.size();
        }

        private long weights(List<String> paths) {
            long total = 0;
            for (String p : paths) {
                total += tree.get(p).getDirectParameters().get("weight").getArray().getShape().size();
            }
            return total;
        }

        /** Counts a layer of a resumed checkpoint as done, without time. */
        void restored(LayerReport l) {
            doneLayers++;
            doneWeights += l.shape().size();
        }

        void startStage(String name, List<String> paths) {
            stageDone = 0;
            if (bar != null && !paths.isEmpty()) {
                bar.reset(name, weights(paths), "");
            }
        }

        void endStage() {
            if (bar != null && stageDone > 0) {
                bar.end();
            }
        }

        void done(LayerReport l) {
            doneLayers++;
            doneWeights += l.shape().size();
            stageDone += l.shape().size();
            remaining.add(l.shape().size(), l.seconds());
            layerSeconds += l.seconds();
            double elapsed = (System.nanoTime() - start) / 1e9;
            double eta = remaining.estimate(totalLayers - doneLayers, totalWeights - doneWeights) * Math.max(1, elapsed / layerSeconds);
            String etaText = RemainingTime.format(eta);
            if (bar != null) {
                bar.update(stageDone, String.format(Locale.ROOT, "%d/%d layers, %s", doneLayers, totalLayers, etaText));
            }
            logger.info(
                    String.format(
                            Locale.ROOT,
                            "[%d/%d, %.0f%% of weights] %s %s: error %.5f (initialization) -> %.5f%s, %.0f%% codewords used, %.1f s, %s",
                            doneLayers,
                            totalLayers,
                            100.0 * doneWeights / totalWeights,
                            l.path(),
                            l.shape(),
                            l.initError(),
                            l.learnedError(),
                            l.bestStep() > 0 ? " (learned, step " + l.bestStep() + ")" : "",
                            100 * l.codewordUsage(),
                            l.seconds(),
                            etaText));
        }
    }

    /** Keys "layer:PATH" for single layers and "unit:PATH" for units, in network order. */
    private Map<String, List<String>> workItems(List<String> paths) {
        Map<String, List<String>> work = new LinkedHashMap<>();
        for (String path : paths) {
            String unit = unitOf(path);
            String key = unit == null ? "layer:" + path : "unit:" + unit;
            work.computeIfAbsent(key, k -> new ArrayList<>()).add(path);
        }
        return work;
    }

    private String unitOf(String path) {
        if (units.test("")) {
            return "";
        }
        int slash = path.indexOf('/');
        while (slash >= 0) {
            String ancestor = path.substring(0, slash);
            if (units.test(ancestor)) {
                return ancestor;
            }
            slash = path.indexOf('/', slash + 1);
        }
        return null;
    }

    /**
     * Compresses the first of {@code candidates} (consecutive single layers, in network order) and,
     * from the same recording, every other candidate found to receive exactly the same input arrays
     * (such as the query, key and value projections of an attention block). Returns their reports;
     * their number says how many candidates were done.
     */
    private List<LayerReport> compressLayers(
            Block root, List<String> candidates, Streams in, NDManager capture, Map<Block, Block> compressedToFloat) {
        long t = System.nanoTime();
        CalibrationPass pass = CalibrationPass.ofLayers(root, candidates, in.runner(), in.compressed(), capture);
        List<String> together = new ArrayList<>();
        for (int i = 0; i < candidates.size() && (i == 0 || pass.sharesInputs(i)); i++) {
            together.add(candidates.get(i));
        }
        List<NDArray> compressedInputs = pass.recordedArrays();
        List<NDArray> floatInputs = compressedInputs;
        if (!compressedToFloat.isEmpty() || !in.same()) {
            swap(root, compressedToFloat, true);
            try {
                floatInputs = record(root, together.get(0), in.runner(), in.floats(), capture);
            } finally {
                swap(root, compressedToFloat, false);
            }
        }
        recordNanos += System.nanoTime() - t;
        List<LayerReport> reports = new ArrayList<>();
        for (String path : together) {
            Block layer = BlockTree.of(root).get(path);
            NDArray weight = layer.getDirectParameters().get("weight").getArray();
            LayerSettings s = settings.get(path);
            LayerResult result;
            try (ReconstructionLoss loss = loss(layer, weight, compressedInputs, floatInputs, capture, s.getDampening())) {
                result = LayerLearner.of(s).learn(capture, Replacements.denseWeight(path, layer), weight.getShape(), loss);
            }
            ReplacedLayer replaced = put(root, path, result.weight());
            compressedToFloat.put(BlockTree.of(root).get(path), layer);
            reports.add(
                    report(replaced, result.initError(), result.learnedError(), result.codewordUsage(), result.bestStep()));
        }
        return reports;
    }

    private List<LayerReport> compressUnit(
            Block root,
            String unitPath,
            List<String> paths,
            Streams in,
            NDManager capture,
            Map<Block, Block> compressedToFloat) {
        Block unit = BlockTree.of(root).get(unitPath);
        long t = System.nanoTime();
        List<NDList> compressedInputs = recordUnit(root, unitPath, unit, in.runner(), in.compressed(), capture);
        List<NDList> floatInputs = compressedInputs;
        if (!compressedToFloat.isEmpty() || !in.same()) {
            swap(root, compressedToFloat, true);
            try {
                floatInputs = recordUnit(root, unitPath, unit, in.runner(), in.floats(), capture);
            } finally {
                swap(root, compressedToFloat, false);
            }
        }
        recordNanos += System.nanoTime() - t;
        ParameterStore ps = new ParameterStore(capture, false);
        List<NDArray> targets = new ArrayList<>();
        for (NDList x : floatInputs) {
            targets.add(unit.forward(ps, x, false).get(0));
        }
        List<CodebookLearner.UnitLayer> layers = new ArrayList<>();
        for (String path : paths) {
            Block layer = BlockTree.of(root).get(path);
            Shape shape = layer.getDirectParameters().get("weight").getArray().getShape();
            List<NDArray> inputs = record(root, path, unit, compressedInputs, capture);
            float[] importance =
                    layer instanceof Linear
                            ? Importance.linear(inputs, shape)
                            : Importance.convolution(inputs, (Convolution) layer, shape);
            layers.add(new CodebookLearner.UnitLayer(path, layer, Replacements.denseWeight(path, layer), shape, importance, settings.get(path)));
        }
        List<LayerResult> results = CodebookLearner.learnUnit(capture, root, unit, layers, compressedInputs, targets);
        List<LayerReport> reports = new ArrayList<>();
        for (int i = 0; i < paths.size(); i++) {
            LayerResult r = results.get(i);
            ReplacedLayer replaced = put(root, paths.get(i), r.weight());
            compressedToFloat.put(BlockTree.of(root).get(paths.get(i)), layers.get(i).layer());
            reports.add(report(replaced, r.initError(), r.learnedError(), r.codewordUsage(), r.bestStep()));
        }
        return reports;
    }

    private static LayerReport report(ReplacedLayer r, double initError, double learnedError, double usage, int step) {
        return new LayerReport(
                r.path(), r.type(), r.shape(), r.bits(), r.vectorLength(), r.groups(), r.mode(), r.storedBits(),
                initError, learnedError, usage, step, 0);
    }

    private static LayerReport withSeconds(LayerReport l, double seconds) {
        return new LayerReport(
                l.path(), l.type(), l.shape(), l.bits(), l.vectorLength(), l.groups(), l.mode(), l.storedBits(),
                l.initError(), l.learnedError(), l.codewordUsage(), l.bestStep(), seconds);
    }

    private static ReconstructionLoss loss(
            Block layer, NDArray weight, List<NDArray> compressedInputs, List<NDArray> floatInputs, NDManager m, float dampening) {
        if (layer instanceof Linear) {
            return new LinearReconstruction(m, weight, compressedInputs, floatInputs, dampening);
        }
        Parameter bias = layer.getDirectParameters().contains("bias") ? layer.getDirectParameters().get("bias") : null;
        return new ConvolutionReconstruction(
                m, (Convolution) layer, weight, bias == null ? null : bias.getArray(), compressedInputs, floatInputs);
    }

    /**
     * Runs {@code runner} on the inputs with a recorder in place of the layer at {@code path}, and
     * returns the layer's recorded inputs.
     */
    static List<NDArray> record(Block root, String path, Block runner, Iterable<NDList> inputs, NDManager capture) {
        return CalibrationPass.ofLayers(root, List.of(path), runner, inputs, capture).recordedArrays();
    }

    /** Returns the inputs a unit receives when the calibration data runs through the tree. */
    private static List<NDList> recordUnit(
            Block root, String path, Block unit, Block runner, Iterable<NDList> calibration, NDManager capture) {
        if (!path.isEmpty()) {
            return CalibrationPass.ofUnit(root, path, unit, runner, calibration, capture);
        }
        List<NDList> sink = new ArrayList<>();
        for (NDList batch : calibration) {
            sink.add(InputRecorder.copy(batch, capture));
        }
        if (sink.isEmpty()) {
            throw new IllegalArgumentException("The calibration data is empty");
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
    private static ReplacedLayer put(Block root, String path, CompressedWeight weight) {
        Block layer = BlockTree.of(root).get(path);
        NDManager manager = layer.getDirectParameters().get("weight").getArray().getManager();
        return place(root, path, layer, Replacements.codebookBlock(layer, CodebookWeight.of(weight, manager), path, MemoryMode.PACKED));
    }

    /**
     * Puts a codebook block in place of the float layer at a path.
     *
     * @param root the model's root
     * @param path the layer's path
     * @param layer the float layer
     * @param replacement the codebook block
     * @return what was replaced
     */
    static ReplacedLayer place(Block root, String path, Block layer, Block replacement) {
        BlockTree tree = BlockTree.of(root);
        tree.checkReplaceable(layer, replacement, path);
        ReplacedLayer replaced = ReplacedLayer.of(path, layer, replacement, tree.placeCount(layer));
        tree.replace(layer, replacement);
        return replaced;
    }
}
