package ai.djl.jlcm.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;

import java.util.Arrays;
import java.util.Locale;
import java.util.function.Function;

/**
 * Latency of a codebook Linear in each memory mode and chunk size against the dense Linear of the
 * decoded weight: the best and the median of {@code iters} passes (the best is the steadier figure on
 * a shared machine). Not a test: run by hand, from the repository root after {@code mvn package
 * -DskipTests} and {@code mvn test-compile -pl djl-jlcm}:
 *
 * <pre>
 * java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=2 \
 *     -cp djl-jlcm/target/test-classes:examples/target/jlcm.jar ai.djl.jlcm.nn.DecodeBenchmark [iters]
 * </pre>
 */
public final class DecodeBenchmark {

    private DecodeBenchmark() {}

    /**
     * Runs the benchmark.
     *
     * @param args optional: iterations per measurement (default 15), then chunk sizes (comma list,
     *     {@code all} for one chunk)
     */
    public static void main(String[] args) {
        int iters = args.length > 0 ? Integer.parseInt(args[0]) : 15;
        long[][] layers = {{3072, 768}, {768, 3072}};
        long[] tokens = {128, 1024};
        long[] chunks =
                args.length > 1
                        ? Arrays.stream(args[1].split(",")).mapToLong(c -> "all".equals(c) ? Long.MAX_VALUE : Long.parseLong(c)).toArray()
                        : new long[] {1L << 16, 1L << 18, 1L << 20, 1L << 22, Long.MAX_VALUE};
        System.out.println("| layer (out×in) | tokens | mode | chunk weights | best ms | median ms | best × dense |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (long[] layer : layers) {
            for (long t : tokens) {
                try (NDManager m = NDManager.newBaseManager()) {
                    Shape ws = new Shape(layer[0], layer[1]);
                    CompressedWeight cw = CodebookBlocksTest.random(ws, 3, CodebookMode.MULTI, 4, 1);
                    NDArray dense = m.create(cw.decode(), ws);
                    NDArray bias = m.randomNormal(new Shape(layer[0]));
                    NDArray x = m.randomNormal(new Shape(t / 128, 128, layer[1]));
                    double[] base = time(iters, m, x, in -> Linear.linear(in, dense, bias).head());
                    String name = layer[0] + "×" + layer[1];
                    row(name, t, "dense Linear", "-", base, base);
                    CodebookLinear block =
                            CodebookLinear.codebookBuilder()
                                    .setWeight(CodebookWeight.of(cw, m))
                                    .optBiasArray(bias)
                                    .build();
                    ParameterStore ps = new ParameterStore(m, false);
                    for (MemoryMode mode : MemoryMode.values()) {
                        block.getCodebookWeight().setMemoryMode(mode);
                        for (long c : mode == MemoryMode.CACHE_FP32 ? new long[] {Long.MAX_VALUE} : chunks) {
                            block.getCodebookWeight().setChunkWeights(c);
                            double[] ms =
                                    time(iters, m, x, in -> block.forward(ps, new NDList(in), false).head());
                            row(name, t, mode.key(), c == Long.MAX_VALUE ? "all" : String.valueOf(c), ms, base);
                        }
                    }
                    // float16 matmul on the CPU, for comparison with CACHE_FP16's per-chunk widening
                    NDArray w16 = dense.toType(DataType.FLOAT16, false);
                    NDArray b16 = bias.toType(DataType.FLOAT16, false);
                    double[] ms =
                            time(
                                    iters,
                                    m,
                                    x,
                                    in ->
                                            Linear.linear(in.toType(DataType.FLOAT16, false), w16, b16)
                                                    .head()
                                                    .toType(DataType.FLOAT32, false));
                    row(name, t, "fp16 matmul (reference)", "-", ms, base);
                }
            }
        }
    }

    private static void row(String layer, long tokens, String mode, String chunk, double[] ms, double[] base) {
        System.out.printf(
                Locale.ROOT,
                "| %s | %d | %s | %s | %.2f | %.2f | %.2f |%n",
                layer,
                tokens,
                mode,
                chunk,
                ms[0],
                ms[1],
                ms[0] / base[0]);
    }

    /** Returns the best and the median time in ms. */
    private static double[] time(int iters, NDManager m, NDArray x, Function<NDArray, NDArray> f) {
        double[] t = new double[iters];
        for (int i = -3; i < iters; i++) {
            try (NDManager step = m.newSubManager()) {
                NDArray in = x.duplicate();
                in.attach(step);
                long start = System.nanoTime();
                NDArray y = f.apply(in);
                y.toFloatArray(); // wait for the result
                if (i >= 0) {
                    t[i] = (System.nanoTime() - start) / 1e6;
                }
            }
        }
        Arrays.sort(t);
        return new double[] {t[0], t[iters / 2]};
    }
}
