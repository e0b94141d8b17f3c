package ai.djl.jlcm.examples.zoo;

import ai.djl.Model;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.allocation.Sensitivity;
import ai.djl.jlcm.examples.cli.ModelDirectories;
import ai.djl.jlcm.examples.cli.AllocationOptions;
import ai.djl.jlcm.examples.data.MnistData;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.examples.mnist.MnistTraining;
import ai.djl.jlcm.export.ModelDirectory;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.learn.BatchNormStatistics;
import ai.djl.jlcm.learn.MappingUpdate;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.ZooModel;

import com.google.gson.JsonObject;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * Trains (cached) several architectures on MNIST or Fashion-MNIST, compresses each with RTN,
 * KMEANS-1, KMEANS-GROUPED (G=4), GPTQ (onto RTN's grid or KMEANS-GROUPED's codebooks) and JLCM at
 * each bit width, and measures each after reloading it through {@code Criteria}.
 */
@Command(
        name = "zoo",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Train MLP, LeNet, ResNetV1-20 and MobileNetV2 (cached), compress each with RTN, KMEANS-1,",
            "KMEANS-GROUPED (G=4), GPTQ, GPTQ-CODEBOOK and JLCM (G=4, multi, proximal) at each bit width, measure each reloaded",
            "through Criteria. Prints a Markdown table, writes zoo-<dataset>.md, .json and .png into --out,",
            "and ends with one JSON line on standard output."
        })
public final class ZooCommand implements Callable<Integer> {

    /** Method names in table order. */
    public static final List<String> METHODS =
            List.of("RTN", "KMEANS-1", "KMEANS-GROUPED", "KMEANS-GROUPED+BN", "GPTQ", "GPTQ-CODEBOOK", "JLCM");

    /** The methods a row can use; each also with the suffix {@value #BN}. */
    private static final List<String> BASE_METHODS =
            List.of("RTN", "KMEANS-1", "KMEANS-GROUPED", "GPTQ", "GPTQ-CODEBOOK", "JLCM", "JLCM-SCALED");

    /** The suffix of a method followed by BatchNorm re-estimation on the calibration images. */
    static final String BN = "+BN";

    private static final Logger logger = LoggerFactory.getLogger(ZooCommand.class);
    private static final int GROUPS = 4;
    private static final int STEPS = 200;
    private static final int CALIBRATION = 512;
    private static final int CALIBRATION_BATCH = 128;

    @Option(names = "--dataset", description = "mnist or fashion-mnist (default: ${DEFAULT-VALUE})")
    String dataset = MnistData.MNIST;

    @Option(
            names = "--models",
            split = ",",
            paramLabel = "M[,M...]",
            description = "mlp, lenet, resnet, mobilenetv2 (default: all)")
    List<String> models = List.of("mlp", "lenet", "resnet", "mobilenetv2");

    @Option(
            names = "--methods",
            split = ",",
            paramLabel = "M[,M...]",
            description = "RTN, KMEANS-1, KMEANS-GROUPED, GPTQ (GPTQ rounding onto RTN's per-channel grid), GPTQ-CODEBOOK"
                    + " (onto KMEANS-GROUPED's codebooks), JLCM, JLCM-SCALED (JLCM in SCALED mode: one codebook, a scale"
                    + " per group), each optionally with +BN (BatchNorm statistics re-estimated"
                    + " on the 512 calibration images afterwards) (default: RTN,KMEANS-1,KMEANS-GROUPED,KMEANS-GROUPED+BN,"
                    + "GPTQ,GPTQ-CODEBOOK,JLCM)")
    List<String> methods = METHODS;

    @Option(names = "--bits", split = ",", paramLabel = "B[,B...]", description = "bit widths 1-8 (default: 1,2,3,4)")
    List<Integer> bits = List.of(1, 2, 3, 4);

    @Option(
            names = "--target-bits",
            split = ",",
            paramLabel = "T[,T...]",
            description = "whole-model stored bits per parameter, every array counted: each row's layer widths (1-8)"
                    + " are allocated to stay within it; replaces --bits")
    List<Double> targetBits = List.of();

    @Mixin AllocationOptions allocationOptions = new AllocationOptions();

    @Option(names = "--epochs", description = "training epochs (default: ${DEFAULT-VALUE})")
    int epochs = MnistTraining.EPOCHS;

    @Option(names = "--out", description = "report directory (default: jlcm-reports/zoo-<dataset>)")
    Path out;

    @Option(names = "--cache", description = "cache directory (default: ~/.cache/jlcm, or $JLCM_CACHE)")
    Path cache;

    /** The validated settings. */
    record Plan(String dataset, List<ZooArchitecture> models, List<String> methods, List<Integer> bits, List<Double> targets, int epochs) {}

    /**
     * Validates the options.
     *
     * @return the plan
     * @throws IllegalArgumentException for a bad option
     */
    Plan plan() {
        if (!MnistData.MNIST.equals(dataset) && !MnistData.FASHION_MNIST.equals(dataset)) {
            throw new IllegalArgumentException("--dataset must be mnist or fashion-mnist, got '" + dataset + "'");
        }
        if (models == null || models.isEmpty()) {
            throw new IllegalArgumentException("--models needs at least one value");
        }
        Set<ZooArchitecture> archs = new LinkedHashSet<>();
        for (String m : models) {
            try {
                archs.add(ZooArchitecture.of(m));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--models: " + e.getMessage(), e);
            }
        }
        if (bits == null || bits.isEmpty()) {
            throw new IllegalArgumentException("--bits needs at least one value");
        }
        for (Integer b : bits) {
            if (b == null || b < 1 || b > 8) {
                throw new IllegalArgumentException("--bits values must be between 1 and 8, got " + b);
            }
        }
        for (Double t : targetBits) {
            if (t == null || !(t > 0 && t < 32)) {
                throw new IllegalArgumentException("--target-bits values must be above 0 and below 32, got " + t);
            }
        }
        allocationOptions.check(!targetBits.isEmpty());
        if (epochs < 1) {
            throw new IllegalArgumentException("--epochs must be at least 1, got " + epochs);
        }
        if (methods == null || methods.isEmpty()) {
            throw new IllegalArgumentException("--methods needs at least one value");
        }
        Set<String> chosen = new LinkedHashSet<>();
        for (String m : methods) {
            String upper = m.toUpperCase(Locale.ROOT);
            String base = upper.endsWith(BN) ? upper.substring(0, upper.length() - BN.length()) : upper;
            if (!BASE_METHODS.contains(base)) {
                throw new IllegalArgumentException(
                        "--methods: unknown method '" + m + "'; use " + String.join(", ", BASE_METHODS) + ", each optionally with " + BN);
            }
            chosen.add(upper);
        }
        return new Plan(dataset, List.copyOf(archs), List.copyOf(chosen), List.copyOf(new TreeSet<>(bits)), List.copyOf(new TreeSet<>(targetBits)), epochs);
    }

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        Plan plan = plan();
        Path cacheDir = cache != null ? cache : RegistryFetcher.defaultCacheDir();
        Path outDir = out != null ? out : Path.of("jlcm-reports", "zoo-" + dataset);
        MnistData data = MnistData.load(dataset, cacheDir);
        List<ZooRow> rows = new ArrayList<>();
        for (ZooArchitecture arch : plan.models()) {
            Path floatDir = ZooTraining.trainOrCached(data, dataset, arch, plan.epochs(), cacheDir);
            float floatAccuracy;
            try (Model m = ZooTraining.load(floatDir, arch)) {
                floatAccuracy = MnistTraining.accuracy(m, data);
            }
            logger.info(String.format(Locale.ROOT, "%s float accuracy %.2f %%", arch.label(), 100 * floatAccuracy));
            List<Double> widths = new ArrayList<>();
            if (plan.targets().isEmpty()) {
                plan.bits().forEach(b -> widths.add((double) b));
            } else {
                widths.addAll(plan.targets());
            }
            for (double w : widths) {
                Double target = plan.targets().isEmpty() ? null : w;
                for (String method : plan.methods()) {
                    ZooRow row = measure(arch, method, target == null ? (int) w : 0, target, floatDir, floatAccuracy, data, outDir.resolve("models"));
                    rows.add(row);
                    logger.info(
                            String.format(
                                    Locale.ROOT,
                                    "%s %s %s bits: %s",
                                    arch.label(),
                                    method,
                                    row.bitsLabel(),
                                    row.ok()
                                            ? String.format(Locale.ROOT, "%.2f %% at %.3f bits/weight", 100 * row.accuracy(), row.bitsPerWeight())
                                            : "FAILED " + row.error()));
                }
            }
        }
        deleteIfEmpty(outDir.resolve("models"));
        ZooReport report = new ZooReport(dataset, rows);
        Path md = report.write(outDir);
        logger.info("Wrote {}", md.toAbsolutePath());
        System.out.print(report.table());
        JsonObject json = new JsonObject();
        json.addProperty("dataset", dataset);
        json.add("rows", report.json().get("rows"));
        System.out.println(json);
        return rows.stream().anyMatch(r -> !r.ok()) ? 1 : 0;
    }

    private ZooRow measure(
            ZooArchitecture arch, String method, int b, Double target, Path floatDir, double floatAccuracy, MnistData data, Path modelsDir) {
        Path dir = modelsDir.resolve(arch.label() + "-" + method.toLowerCase(Locale.ROOT) + "-" + (target == null ? b : "t" + target));
        try {
            double seconds;
            try (Model model = ZooTraining.load(floatDir, arch)) {
                long start = System.nanoTime();
                compress(model, method, b, target, allocationOptions, data);
                seconds = (System.nanoTime() - start) / 1e9;
                export(model, arch, dir);
            }
            try (ZooModel<NDList, NDList> reloaded = ModelDirectories.load(dir)) {
                double acc = MnistTraining.accuracy(reloaded, data);
                double bpw = ModelSize.of(reloaded.getBlock()).bitsPerWeight();
                return new ZooRow(arch.label(), method, b, target, bpw, acc, floatAccuracy, seconds, null);
            }
        } catch (Exception | LinkageError | AssertionError e) {
            logger.error("{} {} {} bits failed", arch.label(), method, target == null ? b : "<=" + target, e);
            return new ZooRow(
                    arch.label(), method, b, target, Double.NaN, Double.NaN, floatAccuracy, Double.NaN, e.getClass().getSimpleName() + ": " + e.getMessage());
        } finally {
            try {
                ModelDirectory.delete(dir);
            } catch (IOException | IllegalArgumentException e) {
                logger.warn("Could not delete {}: {}", dir, e.toString());
            }
        }
    }

    /**
     * Compresses a model in place.
     *
     * @param model the float model
     * @param method RTN, KMEANS-1, KMEANS-GROUPED, GPTQ, GPTQ-CODEBOOK, JLCM or JLCM-SCALED, optionally with {@value #BN}
     * @param b bits, unless {@code target} is given
     * @param target whole-model bits per parameter to allocate the layers' widths to, or null
     * @param allocation how the target's allocation predicts a layer's cost and the narrowest width
     *     it may give
     * @param data calibration source for the calibrated methods, {@value #BN} and a Fisher
     *     sensitivity (may be null otherwise)
     */
    static void compress(Model model, String method, int b, Double target, AllocationOptions allocation, MnistData data) {
        if (method.endsWith(BN)) {
            compress(model, method.substring(0, method.length() - BN.length()), b, target, allocation, data);
            try (NDManager m = model.getNDManager().newSubManager()) {
                BatchNormStatistics.reestimate(model.getBlock(), calibration(data, m), m);
            }
            return;
        }
        LayerSettings.Builder settings =
                LayerSettings.builder().optGroups(GROUPS).optMode(CodebookMode.MULTI).optMapping(MappingUpdate.PROXIMAL).optSteps(STEPS);
        switch (method) {
            case "JLCM":
                settings.optMethod(Method.JLCM);
                break;
            case "JLCM-SCALED":
                settings.optMethod(Method.JLCM).optMode(CodebookMode.SCALED);
                break;
            case "RTN":
                settings.optMethod(Method.RTN);
                break;
            case "KMEANS-1":
                settings.optMethod(Method.KMEANS).optGroups(1);
                break;
            case "KMEANS-GROUPED":
                settings.optMethod(Method.KMEANS);
                break;
            case "GPTQ":
                settings.optMethod(Method.GPTQ);
                break;
            case "GPTQ-CODEBOOK":
                settings.optMethod(Method.GPTQ_CODEBOOK);
                break;
            default:
                throw new IllegalArgumentException("unknown method " + method);
        }
        CompressionPlan plan = CompressionPlan.of(target == null ? settings.optBits(b).build() : settings.build());
        Jlcm.Builder jlcm = Jlcm.builder().optPlan(plan);
        boolean fisher = false;
        if (target != null) {
            Sensitivity chosen = allocation.resolve(plan.usesCalibration());
            jlcm.optTargetBitsPerWeight(target).optSensitivity(chosen).optMinBits(allocation.minBits());
            fisher = chosen == Sensitivity.FISHER;
        }
        try (NDManager m = model.getNDManager().newSubManager()) {
            jlcm.build().compress(model, plan.usesCalibration() || fisher ? calibration(data, m) : List.of());
        }
    }

    /**
     * Exports a compressed model, naming the architecture factory where the manifest cannot describe it.
     *
     * @param model the model
     * @param arch its architecture
     * @param dir the destination
     * @throws IOException if writing fails
     */
    static void export(Model model, ZooArchitecture arch, Path dir) throws IOException {
        ModelExporter.Builder exporter = ModelExporter.builder().optModelName(ZooTraining.MODEL_NAME).optOverwrite(true);
        if (arch.factory() != null) {
            exporter.optArchitectureFactory(arch.factory());
        }
        exporter.build().export(model, dir);
    }

    private static void deleteIfEmpty(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            if (files.findAny().isEmpty()) {
                Files.delete(dir);
            }
        } catch (IOException e) {
            logger.debug("Left {}: {}", dir, e.toString());
        }
    }

    private static List<NDList> calibration(MnistData data, NDManager manager) {
        NDArray images = data.calibrationBatch(manager, Math.min(CALIBRATION, data.trainSize())).singletonOrThrow();
        long n = images.getShape().get(0);
        List<NDList> batches = new ArrayList<>();
        for (long from = 0; from < n; from += CALIBRATION_BATCH) {
            batches.add(new NDList(images.get(from + ":" + Math.min(n, from + CALIBRATION_BATCH))));
        }
        return batches;
    }
}
