package ai.djl.jlcm.examples.bert;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * A random TF-BERT checkpoint of any size (TF names and {@code [in, out]} kernels) and a plain-Java
 * forward pass over it, written from the TF layout and independent of the DJL blocks.
 */
final class TinyBert {

    static final BertConfig CONFIG = new BertConfig(40, 32, 2, 4, 48, 16, 2, 1e-12f, Gelu.Form.TANH);

    final BertConfig config;
    final Map<String, BundleWriter.Tensor> tensors = new LinkedHashMap<>();

    TinyBert(BertConfig config, long seed) {
        this.config = config;
        Random r = new Random(seed);
        int h = config.hiddenSize();
        int v = config.vocabSize();
        String e = "module/bert/embeddings/";
        put(e + "word_embeddings", r, 0.5f, v, h);
        put(e + "position_embeddings", r, 0.5f, config.maxPositions(), h);
        put(e + "token_type_embeddings", r, 0.5f, config.typeVocabSize(), h);
        norm(e + "LayerNorm", r, h);
        for (int i = 0; i < config.layers(); i++) {
            String l = "module/bert/encoder/layer_" + i + "/";
            dense(l + "attention/self/query", r, h, h);
            dense(l + "attention/self/key", r, h, h);
            dense(l + "attention/self/value", r, h, h);
            dense(l + "attention/output/dense", r, h, h);
            norm(l + "attention/output/LayerNorm", r, h);
            dense(l + "intermediate/dense", r, h, config.intermediateSize());
            dense(l + "output/dense", r, config.intermediateSize(), h);
            norm(l + "output/LayerNorm", r, h);
        }
        dense("module/bert/pooler/dense", r, h, h);
        dense("module/cls/predictions/transform/dense", r, h, h);
        norm("module/cls/predictions/transform/LayerNorm", r, h);
        put("module/cls/predictions/output_bias", r, 0.1f, v);
    }

    private void put(String name, Random r, float scale, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        float[] a = new float[(int) n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian() * scale;
        }
        tensors.put(name, new BundleWriter.Tensor(shape, a));
    }

    private void dense(String name, Random r, int in, int out) {
        put(name + "/kernel", r, (float) (1 / Math.sqrt(in)), in, out);
        put(name + "/bias", r, 0.1f, out);
    }

    private void norm(String name, Random r, int h) {
        float[] g = new float[h];
        for (int i = 0; i < h; i++) {
            g[i] = 1f + 0.1f * (float) r.nextGaussian();
        }
        tensors.put(name + "/gamma", new BundleWriter.Tensor(new long[] {h}, g));
        put(name + "/beta", r, 0.1f, h);
    }

    float[] w(String name) {
        return tensors.get(name).values();
    }

    /** Logits {@code [T][V]} of one sequence, all type ids 0, no padding. */
    double[][] logits(int[] ids) {
        int t = ids.length;
        int h = config.hiddenSize();
        String e = "module/bert/embeddings/";
        double[][] x = new double[t][h];
        for (int i = 0; i < t; i++) {
            for (int j = 0; j < h; j++) {
                x[i][j] =
                        w(e + "word_embeddings")[ids[i] * h + j]
                                + w(e + "position_embeddings")[i * h + j]
                                + w(e + "token_type_embeddings")[j];
            }
        }
        x = ln(x, e + "LayerNorm");
        int heads = config.heads();
        int d = h / heads;
        for (int layer = 0; layer < config.layers(); layer++) {
            String l = "module/bert/encoder/layer_" + layer + "/";
            double[][] q = dense(x, l + "attention/self/query");
            double[][] k = dense(x, l + "attention/self/key");
            double[][] v = dense(x, l + "attention/self/value");
            double[][] ctx = new double[t][h];
            for (int hd = 0; hd < heads; hd++) {
                for (int i = 0; i < t; i++) {
                    double[] s = new double[t];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < t; j++) {
                        double dot = 0;
                        for (int c = 0; c < d; c++) {
                            dot += q[i][hd * d + c] * k[j][hd * d + c];
                        }
                        s[j] = dot / Math.sqrt(d);
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < t; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int j = 0; j < t; j++) {
                        for (int c = 0; c < d; c++) {
                            ctx[i][hd * d + c] += s[j] / sum * v[j][hd * d + c];
                        }
                    }
                }
            }
            double[][] a = dense(ctx, l + "attention/output/dense");
            double[][] h1 = ln(add(a, x), l + "attention/output/LayerNorm");
            double[][] m = gelu(dense(h1, l + "intermediate/dense"));
            double[][] o = dense(m, l + "output/dense");
            x = ln(add(o, h1), l + "output/LayerNorm");
        }
        String c = "module/cls/predictions/";
        double[][] y = ln(gelu(dense(x, c + "transform/dense")), c + "transform/LayerNorm");
        int vocab = config.vocabSize();
        double[][] out = new double[t][vocab];
        for (int i = 0; i < t; i++) {
            for (int tok = 0; tok < vocab; tok++) {
                double s = w(c + "output_bias")[tok];
                for (int j = 0; j < h; j++) {
                    s += y[i][j] * w(e + "word_embeddings")[tok * h + j];
                }
                out[i][tok] = s;
            }
        }
        return out;
    }

    private double[][] dense(double[][] x, String name) {
        float[] k = w(name + "/kernel");
        float[] b = w(name + "/bias");
        int in = x[0].length;
        int out = b.length;
        double[][] y = new double[x.length][out];
        for (int i = 0; i < x.length; i++) {
            for (int o = 0; o < out; o++) {
                double s = b[o];
                for (int j = 0; j < in; j++) {
                    s += x[i][j] * k[j * out + o];
                }
                y[i][o] = s;
            }
        }
        return y;
    }

    private double[][] ln(double[][] x, String name) {
        float[] g = w(name + "/gamma");
        float[] b = w(name + "/beta");
        double[][] y = new double[x.length][x[0].length];
        for (int i = 0; i < x.length; i++) {
            double mean = 0;
            for (double v : x[i]) {
                mean += v;
            }
            mean /= x[i].length;
            double var = 0;
            for (double v : x[i]) {
                var += (v - mean) * (v - mean);
            }
            var /= x[i].length;
            for (int j = 0; j < x[i].length; j++) {
                y[i][j] = (x[i][j] - mean) / Math.sqrt(var + config.layerNormEpsilon()) * g[j] + b[j];
            }
        }
        return y;
    }

    private static double[][] add(double[][] a, double[][] b) {
        double[][] y = new double[a.length][a[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                y[i][j] = a[i][j] + b[i][j];
            }
        }
        return y;
    }

    private static double[][] gelu(double[][] x) {
        double[][] y = new double[x.length][x[0].length];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < x[0].length; j++) {
                double v = x[i][j];
                y[i][j] = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
            }
        }
        return y;
    }
}
