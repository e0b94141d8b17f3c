package ai.djl.jlcm.benchmarks;

import ai.djl.jlcm.nn.CodebookLinear;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * One BERT-base-sized layer, 3-bit MULTI with 4 neuron groups: the codebook {@code Linear} in each
 * memory mode and its decode alone, against DJL's dense {@code Linear} on the decoded weight. Every
 * pass's arrays are freed when it ends, as in a predictor.
 *
 * <pre>
 * mvn -B -Pbench package -DskipTests
 * java -Dai.djl.offline=true -jar benchmarks/target/benchmarks.jar CodebookLinearBenchmark -p tokens=128
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dai.djl.offline=true", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class CodebookLinearBenchmark {

    /** Output × input features. */
    @Param({"3072x768", "768x3072"})
    public String layer;

    /** Tokens per pass, in sequences of 128. */
    @Param({"128", "1024"})
    public int tokens;

    /** {@code dense} (DJL's Linear) or a {@link MemoryMode} key. */
    @Param({"dense", "packed", "byte", "fp16", "fp32"})
    public String mode;

    /** Weights decoded per chunk. */
    @Param({"1048576"})
    public long chunk;

    private NDManager manager;
    private NDArray x;
    private NDArray denseWeight;
    private NDArray bias;
    private CodebookLinear block;
    private ParameterStore store;

    /** Builds the layer and its input. */
    @Setup(Level.Trial)
    public void setUp() {
        String[] dims = layer.split("x");
        Shape shape = new Shape(Long.parseLong(dims[0]), Long.parseLong(dims[1]));
        manager = NDManager.newBaseManager();
        CompressedWeight w = randomWeight(shape, 3, 4, 1);
        denseWeight = manager.create(w.decode(), shape);
        bias = manager.randomNormal(new Shape(shape.get(0)));
        x = manager.randomNormal(new Shape(tokens / 128, 128, shape.get(1)));
        store = new ParameterStore(manager, false);
        if (!"dense".equals(mode)) {
            block =
                    CodebookLinear.codebookBuilder()
                            .setWeight(CodebookWeight.of(w, manager))
                            .optBiasArray(bias)
                            .optMemoryMode(MemoryMode.fromKey(mode))
                            .build();
            block.getCodebookWeight().setChunkWeights(chunk);
        }
    }

    /** Frees the arrays. */
    @TearDown(Level.Trial)
    public void tearDown() {
        manager.close();
    }

    /**
     * One forward pass.
     *
     * @return the output's shape (so the pass is not eliminated)
     */
    @Benchmark
    public Shape forward() {
        try (NDManager step = manager.newSubManager()) {
            x.tempAttach(step);
            NDArray y =
                    block == null
                            ? Linear.linear(x, denseWeight, bias).head()
                            : block.forward(store, new NDList(x), false).head();
            return y.getShape();
        }
    }

    /**
     * Decoding the whole weight (the fused forward decodes it a chunk at a time instead); nothing for
     * {@code dense}.
     *
     * @return the decoded weight's shape
     */
    @Benchmark
    public Shape decode() {
        if (block == null) {
            return denseWeight.getShape();
        }
        try (NDManager step = manager.newSubManager()) {
            return block.getCodebookWeight().decode(step, false).getShape();
        }
    }

    /** A random 3-bit-style weight: rows cycle through the groups, one codebook per group. */
    static CompressedWeight randomWeight(Shape shape, int bits, int groups, long seed) {
        Random r = new Random(seed);
        int rows = Math.toIntExact(shape.get(0));
        int k = 1 << bits;
        int[] groupOf = new int[rows];
        for (int o = 0; o < rows; o++) {
            groupOf[o] = o % groups;
        }
        float[] codebooks = new float[groups * k];
        for (int i = 0; i < codebooks.length; i++) {
            codebooks[i] = (float) (0.05 * r.nextGaussian());
        }
        int[] indices = new int[Math.toIntExact(shape.size())];
        for (int i = 0; i < indices.length; i++) {
            indices[i] = r.nextInt(k);
        }
        return new CompressedWeight(shape, bits, CodebookMode.MULTI, groups, groupOf, codebooks, null, indices);
    }
}
