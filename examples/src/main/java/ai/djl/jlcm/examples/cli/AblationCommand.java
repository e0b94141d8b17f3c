package ai.djl.jlcm.examples.cli;

import ai.djl.Model;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.examples.data.MnistData;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.examples.mnist.MnistTraining;
import ai.djl.jlcm.export.ModelDirectory;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.learn.MappingUpdate;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.ZooModel;

import com.google.gson.JsonObject;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * Compresses the float CNN of a data set with every baseline and JLCM variant at each bit width,
 * saves each result, reloads it through {@code Criteria} and measures the reloaded model; prints one
 * Markdown table and writes it with a JSON document and a PNG chart.
 */
@Command(
        name = "ablation",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Compare RTN, KMEANS-1, KMEANS-GROUPED (G=4) and JLCM {frozen, ste, soft, proximal, neighbours} x {scaled, multi} x G",
            "at each bit width, every row measured on its model directory reloaded through Criteria.",
            "Prints one Markdown table, writes ablation-<dataset>.md, .json and .png into --out,",
            "and ends with one JSON line on standard output. Progress goes to standard error."
        })
final class AblationCommand implements Callable<Integer> {

    /** Contiguous channel groups of the KMEANS-GROUPED baseline (Core ML's grouped LUT). */
    static final int KMEANS_GROUPED_G = 4;

    /** Default bit widths. */
    static final List<Integer> DEFAULT_BITS = List.of(1, 2, 3);

    /** Default JLCM group counts. */
    static final List<Integer> DEFAULT_GROUPS = List.of(1, 4, 16);

    /** Default JLCM steps per layer. */
    static final int DEFAULT_STEPS = 200;

    /** JLCM mapping updates, in table order. */
    static final List<MappingUpdate> MAPPINGS =
            List.of(MappingUpdate.FROZEN, MappingUpdate.STE, MappingUpdate.SOFT, MappingUpdate.PROXIMAL, MappingUpdate.NEIGHBOURS);

    /** Codebook modes of the JLCM rows, in table order. */
    static final List<CodebookMode> MODES = List.of(CodebookMode.SCALED, CodebookMode.MULTI);

    private static final Logger logger = LoggerFactory.getLogger(AblationCommand.class);
    private static final int TRAIN_SIZE = 60_000;

    @Option(
            names = "--dataset",
            description = "mnist or fashion-mnist (default: ${DEFAULT-VALUE})",
            converter = DatasetConverter.class)
    String dataset = MnistData.MNIST;

    @Option(
            names = "--bits",
            split = ",",
            paramLabel = "B[,B...]",
            description = "bit widths to compare, each 1-8 (default: 1,2,3; --quick: 2)")
    List<Integer> bits;

    @Option(
            names = "--groups",
            split = ",",
            paramLabel = "G[,G...]",
            description = "neuron groups per layer for the JLCM rows, each >= 1 (default: 1,4,16; --quick: 4)")
    List<Integer> groups;

    @Option(names = "--steps", description = "JLCM learning steps per layer (default: 200; --quick: 50)")
    Integer steps;

    @Option(
            names = "--calibration-samples",
            description = "JLCM calibration images: the first N training images, batches of 128 (default: ${DEFAULT-VALUE})")
    int calibrationSamples = 512;

    @Option(names = "--out", description = "report directory (default: jlcm-reports/ablation-<dataset>)")
    Path out;

    @Option(
            names = "--cache",
            description = "cache directory for data and the float model (default: ~/.cache/jlcm, or $JLCM_CACHE)")
    Path cache;

    @Option(
            names = "--quick",
            description = "smoke run: bits 2, groups 4, 50 steps (explicit --bits, --groups, --steps still win)")
    boolean quick;

    @Option(names = "--keep-models", description = "keep each row's model directory under <out>/models")
    boolean keepModels;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        List<Integer> bitList = checkedList("--bits", bits != null ? bits : quick ? List.of(2) : DEFAULT_BITS, 1, 8);
        List<Integer> groupList =
                checkedList("--groups", groups != null ? groups : quick ? List.of(4) : DEFAULT_GROUPS, 1, Integer.MAX_VALUE);
        int stepCount = steps != null ? steps : quick ? 50 : DEFAULT_STEPS;
        if (stepCount < 0) {
            throw new IllegalArgumentException("--steps must not be negative, got " + stepCount);
        }
        if (calibrationSamples < 1 || calibrationSamples > TRAIN_SIZE) {
            throw new IllegalArgumentException(
                    "--calibration-samples must be between 1 and " + TRAIN_SIZE + ", got " + calibrationSamples);
        }
        Path cacheDir = cache != null ? cache : RegistryFetcher.defaultCacheDir();
        Path outDir = out != null ? out : Path.of("jlcm-reports", "ablation-" + dataset);
        List<AblationVariant> plan = plan(bitList, groupList);

        MnistData data = MnistData.load(dataset, cacheDir);
        float floatAccuracy;
        try (Model floatModel = MnistTraining.trainOrLoad(data, dataset, cacheDir)) {
            floatAccuracy = MnistTraining.accuracy(floatModel, data);
        }
        Path floatDir = MnistTraining.modelDir(cacheDir, dataset);
        logger.info(
                String.format(
                        Locale.ROOT,
                        "Ablation on %s: float accuracy %.2f %%, %d rows (bits %s, JLCM groups %s, %d steps,"
                                + " %d calibration images), reports in %s",
                        dataset,
                        100 * floatAccuracy,
                        plan.size(),
                        bitList,
                        groupList,
                        stepCount,
                        calibrationSamples,
                        outDir.toAbsolutePath()));

        Path modelsDir = outDir.resolve("models");
        List<AblationRow> rows = new ArrayList<>();
        long start = System.nanoTime();
        for (int i = 0; i < plan.size(); i++) {
            AblationVariant v = plan.get(i);
            AblationRow row = measure(v, floatDir, data, modelsDir.resolve(v.slug()), stepCount);
            rows.add(row);
            double elapsed = (System.nanoTime() - start) / 1e9;
            double eta = elapsed / (i + 1) * (plan.size() - i - 1);
            if (row.ok()) {
                logger.info(
                        String.format(
                                Locale.ROOT,
                                "[%d/%d] %s: %.2f %% at %.3f bits/weight, compressed in %.1f s; elapsed %s, ETA %s",
                                i + 1,
                                plan.size(),
                                v.describe(),
                                100 * row.accuracy(),
                                row.bitsPerWeight(),
                                row.seconds(),
                                duration(elapsed),
                                duration(eta)));
            } else {
                logger.error(
                        "[{}/{}] {}: FAILED: {}; elapsed {}, ETA {}",
                        i + 1,
                        plan.size(),
                        v.describe(),
                        row.error(),
                        duration(elapsed),
                        duration(eta));
            }
        }
        if (!keepModels) {
            deleteIfEmpty(modelsDir);
        }

        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("steps", stepCount);
        settings.put("calibration_samples", calibrationSamples);
        settings.put("kmeans_grouped_groups", KMEANS_GROUPED_G);
        AblationReport report = new AblationReport(dataset, floatAccuracy, rows, settings);
        AblationReport.Written written = report.write(outDir);
        long failed = rows.stream().filter(r -> !r.ok()).count();
        logger.info(
                "Ablation done in {}: {} rows, {} failed; wrote {}, {} and {}",
                duration((System.nanoTime() - start) / 1e9),
                rows.size(),
                failed,
                written.markdown(),
                written.json(),
                written.chart());

        System.out.print(report.table());
        JsonObject json = new JsonObject();
        json.addProperty("dataset", dataset);
        json.addProperty("rows", rows.size());
        json.addProperty("report", written.markdown().toAbsolutePath().toString());
        json.addProperty("chart", written.chart().toAbsolutePath().toString());
        if (failed > 0) {
            json.addProperty("failed", failed);
        }
        System.out.println(json);
        return failed > 0 ? 1 : 0;
    }

    /**
     * The rows of an ablation, in table order: per bit width, RTN, KMEANS-1, KMEANS-GROUPED (G=4,
     * multi), then JLCM for each mapping update, mode and group count.
     *
     * @param bits the bit widths
     * @param groups the JLCM group counts
     * @return the variants
     */
    static List<AblationVariant> plan(List<Integer> bits, List<Integer> groups) {
        String multi = label(CodebookMode.MULTI);
        List<AblationVariant> plan = new ArrayList<>();
        for (int b : bits) {
            plan.add(new AblationVariant(AblationVariant.RTN, null, null, null, b));
            plan.add(new AblationVariant(AblationVariant.KMEANS_1, multi, 1, null, b));
            plan.add(new AblationVariant(AblationVariant.KMEANS_GROUPED, multi, KMEANS_GROUPED_G, null, b));
            for (MappingUpdate mapping : MAPPINGS) {
                for (CodebookMode mode : MODES) {
                    for (int g : groups) {
                        plan.add(new AblationVariant(AblationVariant.JLCM, label(mode), g, label(mapping), b));
                    }
                }
            }
        }
        return plan;
    }

    /**
     * Checks a list option: not empty, every value in {@code [min, max]}; returns it sorted without
     * duplicates.
     *
     * @param option the option name, for the error
     * @param values the values
     * @param min the smallest allowed value
     * @param max the largest allowed value
     * @return the values, sorted and distinct
     * @throws IllegalArgumentException if the list is empty or a value is out of range
     */
    static List<Integer> checkedList(String option, List<Integer> values, int min, int max) {
        if (values == null || values.isEmpty()) {
            throw new IllegalArgumentException(option + " needs at least one value");
        }
        for (Integer v : values) {
            if (v == null || v < min || v > max) {
                throw new IllegalArgumentException(
                        max == Integer.MAX_VALUE
                                ? option + " values must be at least " + min + ", got " + v
                                : option + " values must be between " + min + " and " + max + ", got " + v);
            }
        }
        return List.copyOf(new TreeSet<>(values));
    }

    /** Compresses a fresh copy of the float model, exports, reloads and measures it. */
    private AblationRow measure(AblationVariant v, Path floatDir, MnistData data, Path dir, int stepCount) {
        double seconds = Double.NaN;
        try {
            try (Model model = MnistTraining.loadModel(floatDir)) {
                CompressionPlan plan = CompressionPlan.of(v.settings(stepCount));
                try (NDManager m = model.getNDManager().newSubManager()) {
                    List<NDList> calibration = plan.usesCalibration() ? Calibration.batches(data, m, calibrationSamples) : List.of();
                    long t = System.nanoTime();
                    Jlcm.builder().optPlan(plan).build().compress(model, calibration);
                    seconds = (System.nanoTime() - t) / 1e9;
                }
                ModelExporter.builder()
                        .optModelName(MnistTraining.MODEL_NAME)
                        .optOverwrite(true)
                        .build()
                        .export(model, dir);
            }
            try (ZooModel<NDList, NDList> reloaded = ModelDirectories.load(dir)) {
                double accuracy = MnistTraining.accuracy(reloaded, data);
                double bitsPerWeight = ModelSize.of(reloaded.getBlock()).bitsPerWeight();
                return AblationRow.measured(v, bitsPerWeight, accuracy, seconds);
            }
        } catch (Exception | LinkageError | AssertionError e) {
            logger.error("{} failed", v.describe(), e);
            return AblationRow.failed(v, seconds, e.getClass().getSimpleName() + ": " + e.getMessage());
        } finally {
            if (!keepModels) {
                try {
                    ModelDirectory.delete(dir);
                } catch (IOException | IllegalArgumentException e) {
                    logger.warn("Could not delete {}: {}", dir, e.toString());
                }
            }
        }
    }

    private static String label(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    private static void deleteIfEmpty(Path dir) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (Stream<Path> files = Files.list(dir)) {
            if (files.findAny().isEmpty()) {
                Files.delete(dir);
            }
        } catch (IOException e) {
            logger.warn("Could not delete {}: {}", dir, e.toString());
        }
    }

    /** Formats seconds as {@code 1h02m}, {@code 3m05s} or {@code 12s}. */
    static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s >= 3600) {
            return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
        }
        if (s >= 60) {
            return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        }
        return s + "s";
    }

    /** Parses {@code --dataset} case-insensitively with a one-line error listing the choices. */
    static final class DatasetConverter implements ITypeConverter<String> {

        /** {@inheritDoc} */
        @Override
        public String convert(String value) {
            String key = value.toLowerCase(Locale.ROOT);
            if (key.equals(MnistData.MNIST) || key.equals(MnistData.FASHION_MNIST)) {
                return key;
            }
            throw new TypeConversionException(
                    "unknown dataset '" + value + "'; choose " + MnistData.MNIST + " or " + MnistData.FASHION_MNIST);
        }
    }
}
