package ai.djl.jlcm.examples.cli;

import ai.djl.MalformedModelException;
import ai.djl.inference.Predictor;
import ai.djl.jlcm.export.JlcmBlockFactory;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import ai.djl.translate.TranslateException;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * Latency, throughput and resident memory of a compressed model directory in each memory mode,
 * against a dense model: the float model given by {@code --float}, else the same directory decoded
 * once ({@code fp32} mode, the dense layers' arithmetic).
 */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = {
            "Latency and memory of a compressed model directory in each memory mode, against a dense model.",
            "Forward passes of the models alternate in one JVM (median and p90 latency, throughput);",
            "resident memory (VmRSS, and the peak VmHWM) is measured for each model in a JVM of its own",
            "(a fixed, pre-touched 768 MB Java heap), above that JVM's resident memory once the engine is started.",
            "Ends with one JSON line on standard output."
        })
final class BenchCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "DIR", description = "the compressed model directory")
    Path dir;

    @Option(names = "--float", paramLabel = "DIR", description = "the float model directory to compare with (default: DIR decoded once, fp32 mode)")
    Path floatDir;

    @Option(names = "--batch", paramLabel = "B", description = "samples per forward pass (default ${DEFAULT-VALUE})")
    int batch = 1;

    @Option(names = "--seq", paramLabel = "T", description = "sequence length: replaces axis 1 of the model's input shape")
    Integer seq;

    @Option(names = "--iters", paramLabel = "N", description = "timed forward passes per model (default ${DEFAULT-VALUE})")
    int iters = 20;

    @Option(
            names = "--mode",
            split = ",",
            paramLabel = "MODE",
            converter = MemoryModeConverter.class,
            description = "memory modes to measure, comma-separated: packed, byte, fp16, fp32 (default packed)")
    List<MemoryMode> modes;

    @Option(
            names = "--ids",
            paramLabel = "V",
            description = "integer inputs: the first in [0, V) (token ids), the others ones (token types, attention masks)")
    Integer ids;

    @Option(names = "--no-memory", description = "skip the resident-memory measurement (child JVMs)")
    boolean noMemory;

    @Option(names = "--probe", hidden = true, description = "internal: measure one model's memory in this JVM (dense or a mode)")
    String probe;

    private static final int WARMUP = 3;
    private static final String PROBE_HEAP = "768m";

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("not a directory: " + dir);
        }
        if (floatDir != null && !Files.isDirectory(floatDir)) {
            throw new IllegalArgumentException("--float: not a directory: " + floatDir);
        }
        if (batch < 1 || iters < 1 || (seq != null && seq < 1) || (ids != null && ids < 1)) {
            throw new IllegalArgumentException("--batch, --iters, --seq and --ids must be at least 1");
        }
        if (modes == null || modes.isEmpty()) {
            modes = List.of(MemoryMode.PACKED);
        }
        if (probe != null) {
            System.out.println(probeMemory());
            return 0;
        }
        List<Variant> variants = new ArrayList<>();
        variants.add(new Variant("dense", null));
        for (MemoryMode m : modes) {
            variants.add(new Variant("compressed", m));
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            for (Variant v : variants) {
                v.model = load(v.mode);
                v.predictor = v.model.newPredictor();
            }
            NDList input = input(manager, variants.get(1).model);
            for (Variant v : variants) {
                v.output = forward(v, manager, input);
            }
            for (int i = 0; i < WARMUP + iters; i++) {
                for (Variant v : variants) { // alternate, so drifts of the machine hit every model alike
                    long start = System.nanoTime();
                    forward(v, manager, input);
                    if (i >= WARMUP) {
                        v.ms.add((System.nanoTime() - start) / 1e6);
                    }
                }
            }
            float[] reference = variants.get(0).output;
            for (Variant v : variants) {
                v.maxDiff = maxAbsDiff(v.output, reference);
                v.predictor.close();
                v.model.close();
            }
        }
        if (!noMemory) {
            for (Variant v : variants) {
                v.memory = childProbe(v);
            }
        }
        return report(variants);
    }

    private int report(List<Variant> variants) {
        Variant dense = variants.get(0);
        TextTable table =
                new TextTable(
                        "model", "mode", "median ms", "p90 ms", "samples/s", "× dense latency",
                        "load MB", "peak MB", "× dense peak", "max |Δ output|");
        JsonArray rows = new JsonArray();
        for (Variant v : variants) {
            double median = percentile(v.ms, 0.5);
            double p90 = percentile(v.ms, 0.9);
            double throughput = batch * 1000.0 / median;
            JsonObject row = new JsonObject();
            row.addProperty("model", v.name);
            row.addProperty("mode", v.modeName());
            row.addProperty("median_ms", median);
            row.addProperty("p90_ms", p90);
            row.addProperty("samples_per_s", throughput);
            row.addProperty("latency_ratio", median / percentile(dense.ms, 0.5));
            row.addProperty("max_abs_diff", v.maxDiff);
            String load = "-";
            String peak = "-";
            String peakRatio = "-";
            if (v.memory != null) {
                double loadMb = mb(v.memory.get("load_kb").getAsLong() - v.memory.get("baseline_kb").getAsLong());
                double peakMb = mb(v.memory.get("peak_kb").getAsLong() - v.memory.get("baseline_kb").getAsLong());
                double densePeak =
                        mb(dense.memory.get("peak_kb").getAsLong() - dense.memory.get("baseline_kb").getAsLong());
                row.addProperty("load_mb", loadMb);
                row.addProperty("peak_mb", peakMb);
                row.addProperty("baseline_mb", mb(v.memory.get("baseline_kb").getAsLong()));
                row.addProperty("peak_ratio", peakMb / densePeak);
                load = String.format(Locale.ROOT, "%.1f", loadMb);
                peak = String.format(Locale.ROOT, "%.1f", peakMb);
                peakRatio = String.format(Locale.ROOT, "%.2f", peakMb / densePeak);
            }
            table.add(
                    v.name,
                    v.modeName(),
                    String.format(Locale.ROOT, "%.2f", median),
                    String.format(Locale.ROOT, "%.2f", p90),
                    String.format(Locale.ROOT, "%.1f", throughput),
                    String.format(Locale.ROOT, "%.2f", median / percentile(dense.ms, 0.5)),
                    load,
                    peak,
                    peakRatio,
                    String.format(Locale.ROOT, "%.3g", v.maxDiff));
            rows.add(row);
        }
        System.out.print(table);
        System.out.printf(
                Locale.ROOT,
                "dense: %s; batch %d%s, %d timed passes per model after %d warm-up passes; memory above each JVM's"
                        + " baseline once the engine is started%n",
                floatDir != null ? floatDir : dir + " decoded once (fp32)",
                batch,
                seq == null ? "" : ", sequence " + seq,
                iters,
                WARMUP);
        JsonObject json = new JsonObject();
        json.addProperty("dir", dir.toString());
        json.addProperty("dense", floatDir != null ? floatDir.toString() : "decoded");
        json.addProperty("batch", batch);
        if (seq != null) {
            json.addProperty("seq", seq);
        }
        json.addProperty("iters", iters);
        json.add("rows", rows);
        System.out.println(json);
        return 0;
    }

    private static double mb(long kb) {
        return kb / 1024.0;
    }

    /** One model of the comparison. */
    private static final class Variant {
        final String name;
        final MemoryMode mode;
        ZooModel<NDList, NDList> model;
        Predictor<NDList, NDList> predictor;
        final List<Double> ms = new ArrayList<>();
        float[] output;
        double maxDiff;
        JsonObject memory;

        Variant(String name, MemoryMode mode) {
            this.name = name;
            this.mode = mode;
        }

        String modeName() {
            return mode == null ? "-" : mode.key();
        }
    }

    /** Loads the dense model ({@code mode == null}) or the compressed one in a memory mode. */
    private ZooModel<NDList, NDList> load(MemoryMode mode)
            throws IOException, ModelNotFoundException, MalformedModelException {
        Criteria.Builder<NDList, NDList> b =
                Criteria.builder()
                        .setTypes(NDList.class, NDList.class)
                        .optEngine("PyTorch")
                        .optTranslator(new NoopTranslator());
        if (mode == null && floatDir != null) {
            return b.optModelPath(floatDir).build().loadModel();
        }
        MemoryMode m = mode == null ? MemoryMode.CACHE_FP32 : mode;
        return b.optModelPath(dir).optArgument(JlcmBlockFactory.MEMORY_MODE, m.key()).build().loadModel();
    }

    /** A random input of the model's saved input shape, batch and sequence replaced. */
    private NDList input(NDManager manager, ZooModel<NDList, NDList> model) {
        Shape[] shapes = model.getBlock().getInputShapes();
        if (shapes == null || shapes.length == 0) {
            throw new IllegalArgumentException(
                    dir + ": the model does not record its input shape, so bench cannot make an input");
        }
        Random random = new Random(7);
        NDList list = new NDList();
        for (int k = 0; k < shapes.length; k++) {
            Shape s = shapes[k];
            long[] dims = s.getShape().clone();
            dims[0] = batch;
            if (seq != null && dims.length > 1) {
                dims[1] = seq;
            }
            Shape shape = new Shape(dims);
            int n = Math.toIntExact(shape.size());
            if (ids != null) {
                long[] v = new long[n];
                for (int i = 0; i < n; i++) {
                    v[i] = k == 0 ? random.nextInt(ids) : 1;
                }
                list.add(manager.create(v, shape));
            } else {
                float[] v = new float[n];
                for (int i = 0; i < n; i++) {
                    v[i] = (float) random.nextGaussian();
                }
                list.add(manager.create(v, shape));
            }
        }
        return list;
    }

    private static float[] forward(Variant v, NDManager manager, NDList input) throws TranslateException {
        return forward(v, manager, input, true);
    }

    /** One forward pass; the output is copied to Java only when asked (the copy costs native memory). */
    private static float[] forward(Variant v, NDManager manager, NDList input, boolean read)
            throws TranslateException {
        try (NDManager step = manager.newSubManager()) {
            NDList in = new NDList();
            for (NDArray a : input) {
                NDArray c = a.duplicate();
                c.attach(step);
                in.add(c);
            }
            NDList out = v.predictor.predict(in);
            out.attach(step);
            if (!read) {
                return null;
            }
            NDArray head = out.head();
            return head.getDataType() == DataType.FLOAT32 ? head.toFloatArray() : head.toType(DataType.FLOAT32, false).toFloatArray();
        }
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalStateException("outputs differ in size: " + a.length + " and " + b.length);
        }
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    private static double percentile(List<Double> values, double q) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(v);
        return v[Math.min(v.length - 1, (int) Math.ceil(q * v.length) - 1)];
    }

    /** Runs {@code --probe} for one variant in a child JVM and reads its JSON line. */
    private JsonObject childProbe(Variant v) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        for (String key : System.getProperties().stringPropertyNames()) {
            if (key.startsWith("ai.djl.") || key.startsWith("jlcm.")) {
                cmd.add("-D" + key + "=" + System.getProperty(key));
            }
        }
        // a pre-touched, fixed Java heap is part of the baseline: the deltas are the engine's memory
        cmd.addAll(List.of("-Xms" + PROBE_HEAP, "-Xmx" + PROBE_HEAP, "-XX:+AlwaysPreTouch"));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(JlcmCli.class.getName());
        cmd.add("bench");
        cmd.add(dir.toString());
        if (floatDir != null) {
            cmd.add("--float");
            cmd.add(floatDir.toString());
        }
        cmd.addAll(List.of("--batch", String.valueOf(batch), "--iters", String.valueOf(Math.min(iters, 3))));
        if (seq != null) {
            cmd.addAll(List.of("--seq", String.valueOf(seq)));
        }
        if (ids != null) {
            cmd.addAll(List.of("--ids", String.valueOf(ids)));
        }
        cmd.addAll(List.of("--probe", v.mode == null ? "dense" : v.mode.key()));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String last = null;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                last = line;
            }
        }
        int code = p.waitFor();
        if (code != 0 || last == null) {
            throw new IllegalStateException("the memory probe of " + v.name + " " + v.modeName() + " failed (exit " + code + ")");
        }
        return JsonParser.parseString(last).getAsJsonObject();
    }

    /** In the child JVM: resident memory once the engine runs, after loading, and at the peak. */
    private JsonObject probeMemory() throws Exception {
        MemoryMode mode = "dense".equals(probe) ? null : MemoryMode.fromKey(probe);
        JsonObject json = new JsonObject();
        try (NDManager manager = NDManager.newBaseManager()) {
            warmUpEngine(manager);
            json.addProperty("baseline_kb", status("VmRSS"));
            Variant v = new Variant("probe", mode);
            v.model = load(mode);
            json.addProperty("load_kb", status("VmRSS"));
            try (Predictor<NDList, NDList> p = v.model.newPredictor()) {
                v.predictor = p;
                NDList input = input(manager, v.model);
                for (int i = 0; i < iters; i++) {
                    forward(v, manager, input, false);
                }
            }
            json.addProperty("after_kb", status("VmRSS"));
            json.addProperty("peak_kb", status("VmHWM"));
            v.model.close();
        }
        return json;
    }

    /**
     * Runs one small op of each kind a model uses, so the engine's kernels and thread pools are in
     * the baseline rather than in the first model's figures.
     */
    private static void warmUpEngine(NDManager manager) {
        try (NDManager m = manager.newSubManager()) {
            NDArray x = m.randomNormal(new Shape(64, 64));
            NDArray y = ai.djl.nn.core.Linear.linear(x, x, x.get(0)).head();
            NDArray image = m.randomNormal(new Shape(1, 4, 8, 8));
            NDArray filters = m.randomNormal(new Shape(4, 4, 3, 3));
            image.getNDArrayInternal().convolution(image, filters, null, new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1);
            NDArray idx = m.arange(0, 64, 1, DataType.INT64);
            y.reshape(-1).take(m, idx).add(y.get(idx)).toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false).toFloatArray();
        }
    }

    /** Reads a {@code kB} field of {@code /proc/self/status}. */
    static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).replace("kB", "").trim());
            }
        }
        throw new IOException("/proc/self/status has no " + field + " (bench measures memory on Linux only; use --no-memory)");
    }
}
