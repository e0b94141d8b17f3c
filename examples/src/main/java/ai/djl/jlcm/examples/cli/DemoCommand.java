package ai.djl.jlcm.examples.cli;

import ai.djl.Model;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.jlcm.transform.TransformReport;
import ai.djl.jlcm.examples.data.MnistData;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.examples.mnist.MnistTraining;
import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.ZooModel;

import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
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
            names = "--method",
            description = "compression method: ${COMPLETION-CANDIDATES} (default: kmeans)",
            converter = MethodConverter.class,
            completionCandidates = MethodConverter.Candidates.class)
    Method method = Method.KMEANS;

    @Option(names = "--groups", description = "channel groups for kmeans (default: ${DEFAULT-VALUE})")
    int groups = 1;

    @Option(
            names = "--mode",
            description = "codebook mode for kmeans: scaled or multi (default: multi)",
            converter = ModeConverter.class)
    CodebookMode mode = CodebookMode.MULTI;

    @Option(
            names = "--out",
            description = "compressed model directory (default: jlcm-models/mnist-cnn-<method>-<bits>bit)")
    Path out;

    @Option(names = "--cache", description = "cache directory for data and the float model (default: ~/.cache/jlcm, or $JLCM_CACHE)")
    Path cache;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        if (bits < 1 || bits > 8) {
            throw new IllegalArgumentException("--bits must be between 1 and 8, got " + bits);
        }
        if (groups < 1) {
            throw new IllegalArgumentException("--groups must be positive, got " + groups);
        }
        Path cacheDir = cache != null ? cache : RegistryFetcher.defaultCacheDir();
        Path dir = out != null ? out : Path.of("jlcm-models", "mnist-cnn-" + method.label() + "-" + bits + "bit");
        MnistData data = MnistData.load(MnistData.MNIST, cacheDir);

        float floatAccuracy;
        ModelSize floatSize;
        try (Model floatModel = MnistTraining.trainOrLoad(data, MnistData.MNIST, cacheDir)) {
            floatAccuracy = MnistTraining.accuracy(floatModel, data);
            floatSize = ModelSize.of(floatModel.getBlock());
        }
        long floatFileBytes = ModelDirectories.paramsBytes(MnistTraining.modelDir(cacheDir, MnistData.MNIST));

        long start = System.nanoTime();
        TransformReport report;
        try (Model model = MnistTraining.loadModel(MnistTraining.modelDir(cacheDir, MnistData.MNIST))) {
            report =
                    CodebookTransformer.builder()
                            .setQuantizer(method.quantizer(groups, mode))
                            .optBits(bits)
                            .build()
                            .transform(model.getBlock());
            ModelExporter.builder()
                    .optModelName(MnistTraining.MODEL_NAME)
                    .optOverwrite(true)
                    .build()
                    .export(model, dir);
        }
        double seconds = (System.nanoTime() - start) / 1e9;

        float accuracy;
        ModelSize size;
        try (ZooModel<NDList, NDList> reloaded = ModelDirectories.load(dir)) {
            accuracy = MnistTraining.accuracy(reloaded, data);
            size = ModelSize.of(reloaded.getBlock());
        }
        long fileBytes = ModelDirectories.paramsBytes(dir);

        TextTable table = new TextTable("model", "method", "bits", "bits/weight", "stored bytes", ".params bytes", "test accuracy");
        table.add("float", "-", 32, "32.000", floatSize.storedBytes(), floatFileBytes, pct(floatAccuracy));
        table.add(
                "compressed, reloaded",
                method.label() + (method == Method.KMEANS ? " G=" + groups + " " + mode.name().toLowerCase(Locale.ROOT) : ""),
                bits,
                String.format(Locale.ROOT, "%.3f", size.bitsPerWeight()),
                size.storedBytes(),
                fileBytes,
                pct(accuracy));
        System.out.print(table);
        System.out.printf(
                Locale.ROOT,
                "%d layers compressed in %.1f s; .params %.1fx smaller than float; saved to %s%n",
                report.layers().size(),
                seconds,
                (double) floatFileBytes / fileBytes,
                dir);

        JsonObject json = new JsonObject();
        json.addProperty("float_accuracy", floatAccuracy);
        json.addProperty("compressed_accuracy", accuracy);
        json.addProperty("method", method.label());
        json.addProperty("bits", bits);
        if (method == Method.KMEANS) {
            json.addProperty("groups", groups);
            json.addProperty("mode", mode.name().toLowerCase(Locale.ROOT));
        }
        json.addProperty("bits_per_weight", size.bitsPerWeight());
        json.addProperty("stored_bytes", size.storedBytes());
        json.addProperty("file_bytes", fileBytes);
        json.addProperty("model_dir", dir.toAbsolutePath().toString());
        System.out.println(json);
        return 0;
    }

    private static String pct(float accuracy) {
        return String.format(Locale.ROOT, "%.2f %%", 100 * accuracy);
    }
}
