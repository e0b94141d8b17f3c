package ai.djl.jlcm.examples.bert;

import ai.djl.jlcm.pipeline.Stage;
import ai.djl.jlcm.pipeline.StagedBlock;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import java.util.ArrayList;
import java.util.List;

/**
 * BERT with its pooler and masked-LM head, built from DJL blocks: every dense layer is a {@link
 * Linear}, normalization is {@link ai.djl.nn.norm.LayerNorm}, position and token-type embeddings are
 * {@link ai.djl.nn.transformer.IdEmbedding}.
 *
 * <p>Block paths (child keys; {@code NN} is the layer number from 00):
 *
 * <pre>
 * embeddings/word_embeddings            Linear (V units, no bias): the word table (V, H), also the tied MLM decoder
 * embeddings/position_embeddings        IdEmbedding
 * embeddings/token_type_embeddings      IdEmbedding
 * embeddings/LayerNorm                  LayerNorm
 * encoder/layer_NN/attention/{query,key,value,output}   Linear (H)
 * encoder/layer_NN/attention_norm       LayerNorm
 * encoder/layer_NN/intermediate         Linear (I)
 * encoder/layer_NN/gelu                 Gelu
 * encoder/layer_NN/output               Linear (H)
 * encoder/layer_NN/output_norm          LayerNorm
 * pooler                                Linear (H), tanh on the [CLS] state
 * cls/transform                         Linear (H)
 * cls/gelu, cls/LayerNorm               Gelu, LayerNorm
 * cls (parameter output_bias)           (V)
 * </pre>
 *
 * <p>Inputs: token ids, token type ids and attention mask (1 for real tokens, 0 for padding), each
 * {@code (B, T)} of any numeric type; optionally masked positions {@code (B, I)} to compute logits
 * only there. Outputs: MLM logits {@code (B, T, V)} (or {@code (B, I, V)}) and the pooled output
 * {@code (B, H)}.
 */
public final class BertMlm extends AbstractBlock implements StagedBlock {

    private static final byte VERSION = 1;

    private final BertConfig config;
    private final BertEmbeddings embeddings;
    private Block embeddingsBlock;
    private Block encoder;
    private Linear pooler;
    private Block cls;

    /**
     * Creates the block tree (uninitialized).
     *
     * @param config the BERT dimensions
     */
    public BertMlm(BertConfig config) {
        super(VERSION);
        this.config = config;
        embeddings = new BertEmbeddings(config);
        embeddingsBlock = embeddings;
        children.add("embeddings", embeddingsBlock);
        encoder = new BertEncoder(config);
        children.add("encoder", encoder);
        pooler = BertSelfAttention.dense(config.hiddenSize());
        children.add("pooler", pooler);
        cls = new BertMlmHead(config, embeddings);
        children.add("cls", cls);
    }

    /**
     * Returns the configuration.
     *
     * @return the dimensions
     */
    public BertConfig getConfig() {
        return config;
    }

    /**
     * Returns the embedding block (which holds the word table / tied decoder).
     *
     * @return the embeddings
     */
    public BertEmbeddings getEmbeddings() {
        return embeddings;
    }

    /**
     * Initializes all parameters for inputs of {@code batch x length} tokens (the shapes only fix
     * parameter shapes; any batch and length up to {@code maxPositions} work afterwards).
     *
     * @param manager the manager owning the parameters
     */
    public void initialize(NDManager manager) {
        Shape s = new Shape(1, Math.min(8, config.maxPositions()));
        initialize(manager, DataType.FLOAT32, s, s, s);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDList embedded = embed(ps, inputs, training);
        NDList encoded = new NDList(encoder.forward(ps, embedded.subNDList(0, 2), training).head());
        encoded.addAll(embedded.subNDList(1));
        return head(ps, encoded, training);
    }

    /**
     * Returns the stages: {@code embeddings} (token ids, type ids, mask [, masked positions] → hidden
     * states, attention bias [, positions]), each {@code encoder/layer_NN} (the same three lists
     * through), and the head ({@code pooler} and {@code cls} → logits, pooled output). The word table
     * {@code embeddings/word_embeddings} is owned by the embeddings stage and also run by the head as
     * the tied MLM decoder, so it is compressed first (from the head's inputs) and its float original
     * is kept for the float stream until the head is done.
     *
     * @return the stages
     */
    @Override
    public List<Stage> stages() {
        List<Stage> stages = new ArrayList<>();
        stages.add(new Stage("embeddings", List.of("embeddings"), List.of(), this::embed));
        int layers = encoder.getChildren().size();
        for (int i = 0; i < layers; i++) {
            String key = BertEncoder.layerKey(i);
            int index = i;
            stages.add(
                    new Stage(
                            "encoder/" + key,
                            List.of("encoder/" + key),
                            List.of(),
                            (ps, in, training) -> {
                                Block layer = encoder.getChildren().get(index).getValue();
                                NDList out = new NDList(layer.forward(ps, new NDList(in.get(0), in.get(1)), training).head());
                                out.addAll(in.subNDList(1));
                                return out;
                            }));
        }
        stages.add(new Stage("head", List.of("pooler", "cls"), List.of("embeddings/word_embeddings"), this::head));
        return stages;
    }

    private NDList embed(ParameterStore ps, NDList inputs, boolean training) {
        if (inputs.size() < 3 || inputs.size() > 4) {
            throw new IllegalArgumentException(
                    "BERT expects token ids, type ids, attention mask [, masked positions], got "
                            + inputs.size() + " arrays");
        }
        NDArray ids = inputs.get(0);
        long b = ids.getShape().get(0);
        long t = ids.getShape().get(1);
        if (t > config.maxPositions()) {
            throw new IllegalArgumentException(
                    "sequence of " + t + " tokens exceeds " + config.maxPositions() + " positions");
        }
        NDArray mask = inputs.get(2).toType(DataType.FLOAT32, false);
        NDArray bias = mask.neg().add(1f).mul(-10000f).reshape(b, 1, 1, t);
        NDArray h = embeddingsBlock.forward(ps, new NDList(ids, inputs.get(1)), training).head();
        NDList out = new NDList(h, bias);
        out.addAll(inputs.subNDList(3));
        return out;
    }

    private NDList head(ParameterStore ps, NDList inputs, boolean training) {
        NDArray h = inputs.get(0);
        NDArray first = h.get(":, 0, :");
        NDArray pooled = pooler.forward(ps, new NDList(first), training).head().tanh();
        NDList headIn = inputs.size() == 3 ? new NDList(h, inputs.get(2)) : new NDList(h);
        NDArray logits = cls.forward(ps, headIn, training).head();
        return new NDList(logits, pooled);
    }

    /** {@inheritDoc} */
    @Override
    public void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape ids = inputShapes[0];
        Shape hidden = new Shape(ids.get(0), ids.get(1), config.hiddenSize());
        embeddingsBlock.initialize(manager, dataType, ids, inputShapes[1]);
        encoder.initialize(manager, dataType, hidden, new Shape(ids.get(0), 1, 1, ids.get(1)));
        pooler.initialize(manager, dataType, new Shape(-1, config.hiddenSize()));
        if (inputShapes.length > 3) {
            cls.initialize(manager, dataType, hidden, inputShapes[3]);
        } else {
            cls.initialize(manager, dataType, hidden);
        }
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape ids = inputShapes[0];
        Shape hidden = new Shape(ids.get(0), ids.get(1), config.hiddenSize());
        Shape logits =
                inputShapes.length > 3
                        ? new Shape(ids.get(0), inputShapes[3].get(1), config.vocabSize())
                        : new Shape(ids.get(0), ids.get(1), config.vocabSize());
        return new Shape[] {logits, new Shape(hidden.get(0), config.hiddenSize())};
    }
}
