package ai.djl.jlcm.examples.cli;

import ai.djl.Model;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.allocation.Sensitivity;
import ai.djl.jlcm.examples.data.MnistData;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.examples.mnist.MnistTraining;
import ai.djl.jlcm.export.ModelDirectory;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.learn.FineTuneReport;
import ai.djl.jlcm.learn.JlcmReport;
import ai.djl.jlcm.learn.MappingUpdate;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.repository.zoo.ZooModel;

import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;

/**
 * Fetches MNIST, trains (or loads the cached) float CNN, compresses it, saves the compressed model
 * directory, reloads it through {@code Criteria} and evaluates the reloaded model on the 10 000 test
 * images.
 */
@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        description = {
            "Compress an MNIST CNN, save it, reload it through Criteria and evaluate it.",
            "Ends with one JSON line on standard output."
        })
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--bits", description = "bits per weight index, 1-8 (default: ${DEFAULT-VALUE})")
    int bits = 2;

    @Option(
            names = "--target-bits",
            paramLabel = "B",
            description = "choose each layer's width (1-8 bits) so that the whole model stores at most B bits per"
                    + " parameter, every array counted (model bits/weight); replaces --bits")
    Double targetBits;

    @Mixin AllocationOptions allocationOptions = new AllocationOptions();

    @Option(
            names = "--method",
            description = "compression method: ${COMPLETION-CANDIDATES} (default: jlcm)",
            converter = MethodConverter.class,
            completionCandidates = MethodConverter.Candidates.class)
    Method method = Method.JLCM;

    @Option(names = "--groups", description = "neuron groups per layer for kmeans and jlcm (default: ${DEFAULT-VALUE})")
    int groups = 4;

    @Option(
            names = "--mode",
            description = "codebook mode for kmeans and jlcm: scaled or multi (default: the library's, multi; scaled"
                    + " for jlcm at 1 bit)",
            converter = ModeConverter.class)
    CodebookMode mode;

    @Option(
            names = "--mapping",
            description = "jlcm mapping update: " + MappingConverter.CHOICES + " (default: proximal)",
            converter = MappingConverter.class)
    MappingUpdate mapping = MappingUpdate.PROXIMAL;

    @Option(names = "--steps", description = "jlcm learning steps per layer (default: ${DEFAULT-VALUE})")
    int steps = 200;

    @Option(
            names = "--neighbour-moves",
            description = "jlcm neighbours: most moves per row and step on linear layers, each on the gradient the previous ones changed (default: ${DEFAULT-VALUE})")
    int neighbourMoves = 1;

    @Option(names = "--latent-rate", description = "jlcm latent learning rate, in codeword spacings per step (default: ${DEFAULT-VALUE})")
    float latentRate = 0.02f;

    @Option(names = "--edge-phi", description = "jlcm proximal factor for outward moves at a codebook edge, 0..1 (default: ${DEFAULT-VALUE})")
    float edgePhi = 1f;

    @Option(names = "--phi-on-gradient", description = "jlcm proximal: weight the latent gradient by phi before Adam instead of the step after it")
    boolean phiOnGradient;

    @Option(names = "--end-to-end", description = "jlcm: learn all layers together against the network's output instead of layer by layer")
    boolean endToEnd;

    @Option(names = "--deterministic", description = "jlcm: bit-reproducible compression (the engine runs on one thread while compressing)")
    boolean deterministic;

    @Option(names = "--calibration-samples", description = "jlcm calibration images from the training set (default: ${DEFAULT-VALUE})")
    int calibrationSamples = 512;

    @Option(
            names = "--out",
            description = "compressed model directory (default: jlcm-models/mnist-cnn-<method>-<bits>bit; t<B> in place of <bits>bit with --target-bits)")
    Path out;

    @Mixin FineTuneOptions fineTuneOptions = new FineTuneOptions();

    @Option(names = "--overwrite", description = "replace --out if it holds a model directory written by djl-jlcm (any other non-empty directory is refused)")
    boolean overwrite;

    @Option(names = "--cache", description = "cache directory for data and the float model (default: ~/.cache/jlcm, or $JLCM_CACHE)")
    Path cache;

    /** What fine-tuning did in {@link #compress}, or null. */
    private FineTuneReport fineTune;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        if (bits < 1 || bits > 8) {
            throw new IllegalArgumentException("--bits must be between 1 and 8, got " + bits);
        }
        if (targetBits != null && !(targetBits > 0 && targetBits < 32)) {
            throw new IllegalArgumentException("--target-bits must be above 0 and below 32, got " + targetBits);
        }
        allocationOptions.check(targetBits != null);
        if (groups < 1) {
            throw new IllegalArgumentException("--groups must be positive, got " + groups);
        }
        if (steps < 0) {
            throw new IllegalArgumentException("--steps must not be negative, got " + steps);
        }
        if (endToEnd && mapping == MappingUpdate.NEIGHBOURS) {
            throw new IllegalArgumentException(
                    "--mapping neighbours scores moves on a layer's own loss; it does not apply to --end-to-end");
        }
        if (calibrationSamples < 1) {
            throw new IllegalArgumentException("--calibration-samples must be positive, got " + calibrationSamples);
        }
        fineTuneOptions.settings();
        Path cacheDir = cache != null ? cache : RegistryFetcher.defaultCacheDir();
        Path dir = out != null ? out : Path.of("jlcm-models", "mnist-cnn-" + method.label() + "-" + widthLabel());
        ModelDirectory.checkDestination(dir, overwrite);
        MnistData data = MnistData.load(MnistData.MNIST, cacheDir);

        float floatAccuracy;
        ModelSize floatSize;
        try (Model floatModel = MnistTraining.trainOrLoad(data, MnistData.MNIST, cacheDir)) {
            floatAccuracy = MnistTraining.accuracy(floatModel, data);
            floatSize = ModelSize.of(floatModel.getBlock());
        }
        long floatFileBytes = ModelDirectories.paramsBytes(MnistTraining.modelDir(cacheDir, MnistData.MNIST));

        long start = System.nanoTime();
        int layers;
        try (Model model = MnistTraining.loadModel(MnistTraining.modelDir(cacheDir, MnistData.MNIST))) {
            layers = compress(model, data);
            ModelExporter.builder()
                    .optModelName(MnistTraining.MODEL_NAME)
                    .optOverwrite(overwrite)
                    .build()
                    .export(model, dir);
        }
        double seconds = (System.nanoTime() - start) / 1e9;

        float accuracy;
        ModelSize size;
        TextTable layerTable;
        String modes;
        try (ZooModel<NDList, NDList> reloaded = ModelDirectories.load(dir)) {
            accuracy = MnistTraining.accuracy(reloaded, data);
            size = ModelSize.of(reloaded.getBlock());
            layerTable = InspectCommand.layerTable(reloaded.getBlock());
            modes = modes(reloaded.getBlock());
        }
        long fileBytes = ModelDirectories.paramsBytes(dir);

        System.out.print(layerTable);
        TextTable table =
                new TextTable("model", "method", "bits", "bits/weight", "model bits/weight", "stored bytes", ".params bytes", "test accuracy");
        table.add("float", "-", 32, "32.000", "32.000", floatSize.storedBytes(), floatFileBytes, pct(floatAccuracy));
        table.add(
                "compressed, reloaded",
                describe(modes),
                targetBits == null ? bits : "<= " + targetBits,
                String.format(Locale.ROOT, "%.3f", size.bitsPerWeight()),
                String.format(Locale.ROOT, "%.3f", size.modelBitsPerWeight()),
                size.storedBytes(),
                fileBytes,
                pct(accuracy));
        System.out.print(table);
        FineTuneOptions.print(fineTune);
        System.out.printf(
                Locale.ROOT,
                "%d layers compressed in %.1f s; .params %.1fx smaller than float; saved to %s%n",
                layers,
                seconds,
                (double) floatFileBytes / fileBytes,
                dir);

        JsonObject json = new JsonObject();
        json.addProperty("float_accuracy", floatAccuracy);
        json.addProperty("compressed_accuracy", accuracy);
        json.addProperty("method", method.label());
        if (targetBits == null) {
            json.addProperty("bits", bits);
        } else {
            json.addProperty("target_bits_per_weight", targetBits);
            json.addProperty("sensitivity", AllocationOptions.name(allocationOptions.resolve(method.isCalibrated())));
            json.addProperty("min_bits", allocationOptions.minBits());
        }
        if (method != Method.RTN) {
            json.addProperty("groups", groups);
            json.addProperty("mode", modes);
        }
        if (method == Method.JLCM) {
            json.addProperty("mapping", mapping.name().toLowerCase(Locale.ROOT));
            if (mapping == MappingUpdate.NEIGHBOURS) {
                json.addProperty("neighbour_moves", neighbourMoves);
            }
        }
        json.addProperty("seconds", seconds);
        fineTuneOptions.addTo(json, fineTune);
        json.addProperty("bits_per_weight", size.bitsPerWeight());
        json.addProperty("model_bits_per_weight", size.modelBitsPerWeight());
        json.addProperty("stored_bytes", size.storedBytes());
        json.addProperty("file_bytes", fileBytes);
        json.addProperty("model_dir", dir.toAbsolutePath().toString());
        System.out.println(json);
        return 0;
    }

    /** Compresses the model in place with the chosen method; returns the number of layers. */
    private int compress(Model model, MnistData data) {
        LayerSettings.Builder settings =
                LayerSettings.builder()
                        .optMethod(method)
                        .optBits(bits)
                        .optGroups(groups)
                        .optMapping(mapping)
                        .optNeighbourMoves(neighbourMoves)
                        .optSteps(steps)
                        .optLearningRates(1e-3f, 1e-3f, latentRate)
                        .optEdgePhi(edgePhi)
                        .optPhiOnStep(!phiOnGradient);
        if (mode != null) {
            settings.optMode(mode);
        }
        CompressionPlan plan = CompressionPlan.of(settings.build());
        Sensitivity sensitivity = allocationOptions.resolve(plan.usesCalibration());
        try (NDManager m = model.getNDManager().newSubManager()) {
            List<NDList> calibration =
                    plan.usesCalibration() || fineTuneOptions.enabled() || (targetBits != null && sensitivity == Sensitivity.FISHER) ? Calibration.batches(data, m, Math.min(calibrationSamples, data.trainSize())) : List.of();
            Jlcm.Builder jlcm =
                    Jlcm.builder()
                            .optPlan(plan)
                            .optReconstructionUnits(endToEnd ? String::isEmpty : p -> false)
                            .optDeterministic(deterministic)
                            .optFineTune(fineTuneOptions.settings());
            if (targetBits != null) {
                jlcm.optTargetBitsPerWeight(targetBits).optSensitivity(sensitivity).optMinBits(allocationOptions.minBits());
            }
            JlcmReport report = jlcm.build().compress(model, calibration);
            fineTune = report.fineTune();
            return report.layerCount();
        }
    }

    /** The width part of the default directory name: {@code 2bit}, or {@code t2.3} for a target. */
    private String widthLabel() {
        return targetBits == null ? bits + "bit" : "t" + targetBits;
    }

    /** The codebook modes of a model's compressed layers, as options spell them: {@code multi}, {@code scaled,multi}. */
    private static String modes(Block root) {
        Set<String> modes = new TreeSet<>();
        BlockTree.of(root).blocks().values().forEach(b -> {
            if (b instanceof CodebookBlock) {
                modes.add(((CodebookBlock) b).getCodebookWeight().getMode().name().toLowerCase(Locale.ROOT));
            }
        });
        return String.join(",", modes);
    }

    private String describe(String lower) {
        switch (method) {
            case KMEANS:
                return "kmeans G=" + groups + " " + lower;
            case JLCM:
                return "jlcm G=" + groups + " " + lower + " " + mapping.name().toLowerCase(Locale.ROOT) + " " + steps + " steps";
            default:
                return method.label();
        }
    }

    private static String pct(float accuracy) {
        return String.format(Locale.ROOT, "%.2f %%", 100 * accuracy);
    }
}
