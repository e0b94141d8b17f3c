package ai.djl.jlcm.examples.bert;

import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.nn.transformer.IdEmbedding;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import java.lang.reflect.Field;

/**
 * BERT's input embeddings: word + position + token type, then LayerNorm.
 *
 * <p>The word-embedding table {@code (V, H)} is held as the weight of a {@link Linear} with {@code V}
 * units and no bias, child {@code word_embeddings}. That one {@code Linear} is also the masked-LM
 * decoder ({@link BertMlmHead} calls its forward: {@code x E^T}), so the table exists once and a
 * compression of this {@code Linear} (a {@code CodebookLinear} put in its place) compresses both the
 * input embedding and the tied decoder. The lookup of a codebook block decodes only the looked-up
 * rows ({@link CodebookWeight#decodeRows}); other blocks are read through {@link #weightOf(Block,
 * ParameterStore, NDManager, boolean)}.
 *
 * <p>Children: {@code word_embeddings} ({@link Linear}), {@code position_embeddings} and {@code
 * token_type_embeddings} ({@link IdEmbedding}), {@code LayerNorm} ({@link LayerNorm}). Inputs: token
 * ids and token type ids, {@code (B, T)} integers; output {@code (B, T, H)}.
 */
public final class BertEmbeddings extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int hidden;
    private Linear wordEmbeddings;
    private Block positionEmbeddings;
    private Block tokenTypeEmbeddings;
    private Block layerNorm;

    /**
     * Creates the embedding block.
     *
     * @param config the BERT dimensions
     */
    public BertEmbeddings(BertConfig config) {
        super(VERSION);
        hidden = config.hiddenSize();
        wordEmbeddings = Linear.builder().setUnits(config.vocabSize()).optBias(false).build();
        children.add("word_embeddings", wordEmbeddings);
        positionEmbeddings =
                new IdEmbedding.Builder()
                        .setDictionarySize(config.maxPositions())
                        .setEmbeddingSize(hidden)
                        .build();
        children.add("position_embeddings", positionEmbeddings);
        tokenTypeEmbeddings =
                new IdEmbedding.Builder()
                        .setDictionarySize(config.typeVocabSize())
                        .setEmbeddingSize(hidden)
                        .build();
        children.add("token_type_embeddings", tokenTypeEmbeddings);
        layerNorm = BertLayer.layerNorm(config);
        children.add("LayerNorm", layerNorm);
    }

    /**
     * Returns the block now holding the word-embedding table (a {@link Linear}, or whatever a
     * compression put in its place).
     *
     * @return the word-embedding / decoder block
     */
    public Linear getWordEmbeddings() {
        return wordEmbeddings;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray ids = inputs.get(0);
        NDArray types = inputs.get(1);
        NDManager m = ids.getManager();
        long t = ids.getShape().get(1);
        NDArray longIds = ids.toType(DataType.INT64, false);
        NDArray words;
        if (wordEmbeddings instanceof CodebookBlock) {
            // decode only the looked-up rows of a compressed table
            words = ((CodebookBlock) wordEmbeddings).getCodebookWeight().decodeRows(m, longIds, training);
        } else {
            try (NDManager scope = m.newSubManager()) {
                // a stand-in's decoded table lands in scope and is freed here; the lookup result
                // lives in the ids' manager
                NDArray table = weightOf(wordEmbeddings, ps, scope, training);
                words = Embedding.embedding(longIds, table, SparseFormat.DENSE).head();
                words.attach(m);
            }
        }
        NDArray positions = m.arange(0, (int) t, 1, DataType.INT64).reshape(1, t);
        NDArray pos = positionEmbeddings.forward(ps, new NDList(positions), training).head();
        NDArray typ =
                tokenTypeEmbeddings
                        .forward(ps, new NDList(types.toType(DataType.INT64, false)), training)
                        .head();
        NDArray sum = words.add(pos).add(typ);
        return layerNorm.forward(ps, new NDList(sum), training);
    }

    /**
     * Returns the {@code (out, in)} weight of a dense layer: a {@link Linear}'s {@code weight}
     * parameter, or the decoded weight of a {@link CodebookBlock}. A stand-in that wraps a layer (for
     * example a block recording the layer's inputs) is looked through: its fields are searched for
     * the wrapped {@code Linear}.
     *
     * @param block the layer
     * @param ps the parameter store
     * @param manager the manager for a decoded weight (a plain {@code Linear}'s parameter array
     *     stays where it is)
     * @param training whether this is a training pass
     * @return the weight (the parameter's array itself for a plain {@code Linear})
     * @throws IllegalStateException if no weight can be found
     */
    public static NDArray weightOf(
            Block block, ParameterStore ps, NDManager manager, boolean training) {
        return weightOf(block, ps, manager, training, 0);
    }

    private static NDArray weightOf(
            Block block, ParameterStore ps, NDManager manager, boolean training, int depth) {
        if (block instanceof CodebookBlock) {
            CodebookWeight w = ((CodebookBlock) block).getCodebookWeight();
            return w.decode(manager, training);
        }
        Parameter weight = block.getDirectParameters().contains("weight")
                ? block.getDirectParameters().get("weight")
                : null;
        if (weight != null && weight.isInitialized()) {
            return ps.getValue(weight, manager.getDevice(), training);
        }
        if (depth < 4) {
            for (Class<?> c = block.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
                for (Field f : c.getDeclaredFields()) {
                    if (!Block.class.isAssignableFrom(f.getType())
                            || java.lang.reflect.Modifier.isStatic(f.getModifiers())) {
                        continue;
                    }
                    try {
                        f.setAccessible(true);
                        Object inner = f.get(block);
                        if (inner instanceof Linear && inner != block) {
                            return weightOf((Block) inner, ps, manager, training, depth + 1);
                        }
                    } catch (ReflectiveOperationException | RuntimeException e) {
                        // not accessible: keep looking
                    }
                }
            }
        }
        throw new IllegalStateException(
                "Cannot read the word-embedding table from a " + block.getClass().getName());
    }

    /** {@inheritDoc} */
    @Override
    public void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape ids = inputShapes[0];
        wordEmbeddings.initialize(manager, dataType, new Shape(-1, hidden));
        positionEmbeddings.initialize(manager, dataType, new Shape(1, ids.get(1)));
        tokenTypeEmbeddings.initialize(manager, dataType, ids);
        layerNorm.initialize(manager, dataType, new Shape(ids.get(0), ids.get(1), hidden));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape ids = inputShapes[0];
        return new Shape[] {new Shape(ids.get(0), ids.get(1), hidden)};
    }
}
