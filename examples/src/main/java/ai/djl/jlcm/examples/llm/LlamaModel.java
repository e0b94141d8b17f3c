package ai.djl.jlcm.examples.llm;

import ai.djl.jlcm.examples.bert.BertEmbeddings;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.pipeline.Stage;
import ai.djl.jlcm.pipeline.StagedBlock;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A Llama-family causal language model ({@code LlamaForCausalLM}) built from DJL blocks: token
 * embeddings, N pre-norm decoder layers, final {@link RmsNorm} and LM head. Every projection and the
 * LM head are {@link Linear}, so the codebook transformer replaces them.
 *
 * <p>Block paths (child keys; {@code NN} is the layer number from 00), with the Hugging Face tensor
 * each weight comes from:
 *
 * <pre>
 * embed_tokens                               Linear (V units, no bias): the token table (V, H)   model.embed_tokens.weight
 * layer_NN/input_layernorm                   RmsNorm                                             model.layers.N.input_layernorm.weight
 * layer_NN/self_attn/{q,k,v,o}_proj          Linear                                              model.layers.N.self_attn.q_proj.weight, ...
 * layer_NN/post_attention_layernorm          RmsNorm                                             model.layers.N.post_attention_layernorm.weight
 * layer_NN/mlp/{gate,up,down}_proj           Linear                                              model.layers.N.mlp.gate_proj.weight, ...
 * norm                                       RmsNorm                                             model.norm.weight
 * lm_head                                    Linear (V), absent when the head is tied            lm_head.weight
 * </pre>
 *
 * <p>The token table is held as a {@code Linear}'s weight, as in {@link BertEmbeddings}: a
 * compression of that {@code Linear} compresses the table, and a tied LM head is that same {@code
 * Linear}'s forward ({@code x E^T}). A compressed table is looked up by decoding only the rows read.
 *
 * <p>Input: token ids {@code (B, T)} of any integer type; output: logits {@code (B, T, V)}. With a
 * {@link KvCache} ({@link #forward(ParameterStore, NDArray, KvCache)}) the ids continue the cached
 * positions.
 */
public final class LlamaModel extends AbstractBlock implements StagedBlock {

    private static final byte VERSION = 1;

    /** The additive mask of a position a query may not see. */
    private static final float MASKED = -1e9f;

    private final LlamaConfig config;
    private final int layerCount;
    private Linear embedTokens;
    private Block norm;
    private Linear lmHead;

    /**
     * Creates the block tree (uninitialized).
     *
     * @param config the dimensions
     */
    public LlamaModel(LlamaConfig config) {
        super(VERSION);
        this.config = config;
        layerCount = config.layers();
        embedTokens = LlamaAttention.child(children, "embed_tokens", LlamaAttention.dense(config.vocabSize()));
        for (int i = 0; i < layerCount; i++) {
            LlamaAttention.child(children, layerKey(i), new LlamaLayer(config, i));
        }
        norm = LlamaAttention.child(children, "norm", new RmsNorm(config.hiddenSize(), config.rmsNormEps()));
        if (!config.tieWordEmbeddings()) {
            lmHead = LlamaAttention.child(children, "lm_head", LlamaAttention.dense(config.vocabSize()));
        }
    }

    /**
     * Returns the child key of decoder layer {@code i}.
     *
     * @param i the layer index, from 0
     * @return for example {@code layer_03}
     */
    public static String layerKey(int i) {
        return String.format(Locale.ROOT, "layer_%02d", i);
    }

    /**
     * Returns the configuration.
     *
     * @return the dimensions
     */
    public LlamaConfig getConfig() {
        return config;
    }

    /**
     * Initializes all parameters (the shapes fix only the parameter shapes; any batch and length up
     * to {@code maxPositions} work afterwards).
     *
     * @param manager the manager owning the parameters
     */
    public void initialize(NDManager manager) {
        initialize(manager, DataType.FLOAT32, new Shape(1, Math.min(8, config.maxPositions())));
    }

    /**
     * Runs the model on ids that continue the positions of a cache, and appends their keys and
     * values to it.
     *
     * @param ps the parameter store
     * @param ids token ids {@code (B, T)}
     * @param cache the cache (empty for the first pass)
     * @return logits {@code (B, T, V)}
     */
    public NDArray forward(ParameterStore ps, NDArray ids, KvCache cache) {
        PairList<String, Object> params = new PairList<>();
        params.add(KvCache.PARAMETER, cache);
        NDArray logits = forward(ps, new NDList(ids), false, params).head();
        cache.advance((int) ids.getShape().get(1));
        return logits;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        Object cache = params == null ? null : params.get(KvCache.PARAMETER);
        int start = cache == null ? 0 : ((KvCache) cache).length();
        NDList h = embed(ps, inputs, training, start);
        NDManager owner = h.head().getManager();
        for (int i = 0; i < layerCount; i++) {
            Block layer = children.get(layerKey(i));
            if (training) {
                h = layer.forward(ps, h, true, params);
                continue;
            }
            // inference: a layer's intermediates are freed when it ends, not when the whole pass does
            NDArray x = h.head();
            NDList out;
            try (NDManager step = owner.newSubManager()) {
                x.tempAttach(step);
                out = layer.forward(ps, h, false, params);
                out.head().attach(owner);
            }
            x.close();
            h = out;
        }
        return head(ps, h, training);
    }

    /**
     * Returns the stages: {@code embeddings} (token ids → hidden states, rotary tables, causal mask),
     * each {@code layer_NN} (the four arrays through), and {@code head} ({@code norm} and {@code
     * lm_head} → logits). A tied head runs {@code embed_tokens}, owned by the embeddings stage.
     *
     * @return the stages
     */
    @Override
    public List<Stage> stages() {
        List<Stage> stages = new ArrayList<>();
        stages.add(new Stage("embeddings", List.of("embed_tokens"), List.of(), (ps, in, training) -> embed(ps, in, training, 0)));
        for (int i = 0; i < layerCount; i++) {
            stages.add(Stage.child(this, layerKey(i)));
        }
        List<String> uses = config.tieWordEmbeddings() ? List.of("embed_tokens") : List.of();
        List<String> owns = config.tieWordEmbeddings() ? List.of("norm") : List.of("norm", "lm_head");
        stages.add(new Stage("head", owns, uses, this::head));
        return stages;
    }

    private NDList embed(ParameterStore ps, NDList inputs, boolean training, int start) {
        NDArray ids = inputs.head().toType(DataType.INT64, false);
        NDManager m = inputs.head().getManager();
        int t = (int) ids.getShape().get(1);
        if (start + t > config.maxPositions()) {
            throw new IllegalArgumentException(
                    "positions up to " + (start + t) + " exceed max_position_embeddings " + config.maxPositions());
        }
        NDArray h;
        if (embedTokens instanceof CodebookBlock) {
            h = ((CodebookBlock) embedTokens).getCodebookWeight().decodeRows(m, ids, training);
        } else {
            try (NDManager scope = m.newSubManager()) {
                NDArray table = BertEmbeddings.weightOf(embedTokens, ps, scope, training);
                h = Embedding.embedding(ids, table, SparseFormat.DENSE).head();
                h.attach(m);
            }
        }
        NDList out = new NDList(h);
        out.addAll(rotary(m, start, t));
        out.add(causalMask(m, start, t));
        return out;
    }

    /** The rotary {@code cos} and {@code sin} tables {@code (T, d)} of positions {@code start..start+T-1}. */
    private NDList rotary(NDManager m, int start, int t) {
        int d = config.headSize();
        float[] cos = new float[t * d];
        float[] sin = new float[t * d];
        for (int p = 0; p < t; p++) {
            for (int j = 0; j < d / 2; j++) {
                double angle = (start + p) / Math.pow(config.ropeTheta(), 2.0 * j / d);
                cos[p * d + j] = (float) Math.cos(angle);
                cos[p * d + j + d / 2] = cos[p * d + j];
                sin[p * d + j] = (float) Math.sin(angle);
                sin[p * d + j + d / 2] = sin[p * d + j];
            }
        }
        return new NDList(m.create(cos, new Shape(t, d)), m.create(sin, new Shape(t, d)));
    }

    /** The additive causal mask {@code (T, start + T)}: query {@code i} sees keys up to {@code start + i}. */
    private static NDArray causalMask(NDManager m, int start, int t) {
        int s = start + t;
        float[] mask = new float[t * s];
        for (int i = 0; i < t; i++) {
            for (int j = start + i + 1; j < s; j++) {
                mask[i * s + j] = MASKED;
            }
        }
        return m.create(mask, new Shape(t, s));
    }

    private NDList head(ParameterStore ps, NDList inputs, boolean training) {
        NDList normed = norm.forward(ps, new NDList(inputs.head()), training);
        Linear out = lmHead != null ? lmHead : embedTokens;
        return out.forward(ps, normed, training);
    }

    /** {@inheritDoc} */
    @Override
    public void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape ids = inputShapes[0];
        long t = ids.get(1);
        Shape x = new Shape(ids.get(0), t, config.hiddenSize());
        Shape table = new Shape(t, config.headSize());
        embedTokens.initialize(manager, dataType, new Shape(-1, config.hiddenSize()));
        for (int i = 0; i < layerCount; i++) {
            children.get(layerKey(i)).initialize(manager, dataType, x, table, table, new Shape(t, t));
        }
        norm.initialize(manager, dataType, x);
        if (lmHead != null) {
            lmHead.initialize(manager, dataType, new Shape(-1, config.hiddenSize()));
        }
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape ids = inputShapes[0];
        return new Shape[] {new Shape(ids.get(0), ids.get(1), config.vocabSize())};
    }
}
