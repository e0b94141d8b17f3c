package ai.djl.jlcm.examples.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * The keys and values of every decoder layer seen so far, for incremental generation: a forward
 * pass of {@link LlamaModel#forward(ai.djl.training.ParameterStore, NDArray, KvCache)} attends over
 * the cached positions and appends its own. Keys are stored after the rotary embedding, per KV head
 * {@code (B, kvHeads, S, headSize)}. Owns its arrays; close it when the generation ends.
 */
public final class KvCache implements AutoCloseable {

    /** The key under which a forward pass finds the cache in its parameters. */
    static final String PARAMETER = "jlcm.llm.kvCache";

    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private int length;

    /**
     * Creates an empty cache.
     *
     * @param parent the manager whose child holds the cached arrays
     * @param layers the number of decoder layers
     */
    public KvCache(NDManager parent, int layers) {
        manager = parent.newSubManager();
        keys = new NDArray[layers];
        values = new NDArray[layers];
    }

    /**
     * Returns the number of cached positions.
     *
     * @return the positions consumed by earlier passes
     */
    public int length() {
        return length;
    }

    /**
     * Appends a layer's new keys and values along the position axis.
     *
     * @param layer the layer index
     * @param k the new keys {@code (B, kvHeads, T, d)}
     * @param v the new values
     * @return the keys and values of all positions (owned by the cache)
     */
    NDArray[] append(int layer, NDArray k, NDArray v) {
        keys[layer] = concat(keys[layer], k);
        values[layer] = concat(values[layer], v);
        return new NDArray[] {keys[layer], values[layer]};
    }

    private NDArray concat(NDArray old, NDArray next) {
        NDArray all = old == null ? next.duplicate() : old.concat(next, 2);
        all.attach(manager);
        if (old != null) {
            old.close();
        }
        return all;
    }

    /**
     * Marks {@code n} more positions as consumed (after every layer has appended them).
     *
     * @param n the positions of the pass
     */
    void advance(int n) {
        length += n;
    }

    /** Frees the cached arrays. */
    @Override
    public void close() {
        manager.close();
    }
}
