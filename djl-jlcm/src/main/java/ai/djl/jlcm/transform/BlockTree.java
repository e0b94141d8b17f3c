package ai.djl.jlcm.transform;

import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.BlockList;
import ai.djl.util.Pair;

import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reflective access to a DJL block tree: every block with its path, every place a block is held,
 * and replacement of a block in all those places.
 *
 * <p>A block's path is the chain of child keys from the root joined by {@code /} (the root's path is
 * empty). A block instance held by two parents is listed once, under the path where it is met first
 * in depth-first child order, with all its places.
 */
public final class BlockTree {

    private static final Field CHILDREN = childrenField();

    private final Map<Block, Node> nodes = new IdentityHashMap<>();
    private final Map<String, Node> byPath = new LinkedHashMap<>();

    private BlockTree() {}

    /**
     * Indexes a block tree.
     *
     * @param root the root block
     * @return the index
     */
    public static BlockTree of(Block root) {
        BlockTree tree = new BlockTree();
        tree.visit(root, "", null, -1, null);
        return tree;
    }

    private void visit(Block block, String path, Block parent, int index, String key) {
        Node node = nodes.get(block);
        boolean first = node == null;
        if (first) {
            node = new Node(block, path);
            nodes.put(block, node);
            byPath.put(path, node);
        }
        if (parent != null) {
            node.places.add(new Place(parent, index, key));
        }
        if (!first) {
            return;
        }
        int i = 0;
        for (Pair<String, Block> child : block.getChildren()) {
            String childPath = path.isEmpty() ? child.getKey() : path + "/" + child.getKey();
            visit(child.getValue(), childPath, block, i++, child.getKey());
        }
    }

    /**
     * Returns every distinct block with its first path, in depth-first order.
     *
     * @return path to block
     */
    public Map<String, Block> blocks() {
        Map<String, Block> out = new LinkedHashMap<>();
        byPath.forEach((p, n) -> out.put(p, n.block));
        return out;
    }

    /**
     * Returns the block at a path, or {@code null}.
     *
     * @param path the path
     * @return the block
     */
    public Block get(String path) {
        Node n = byPath.get(path);
        return n == null ? null : n.block;
    }

    /**
     * Returns how many parents hold the block.
     *
     * @param block the block
     * @return the number of places
     */
    public int placeCount(Block block) {
        Node n = nodes.get(block);
        return n == null ? 0 : n.places.size();
    }

    /**
     * Checks that {@code replacement} can take the place of {@code block} everywhere it is held,
     * without changing anything.
     *
     * @param block the block to replace
     * @param replacement its replacement
     * @param path the block's path, for messages
     * @throws IllegalArgumentException if a parent cannot take the replacement
     */
    public void checkReplaceable(Block block, Block replacement, String path) {
        Node node = nodes.get(block);
        if (node == null || node.places.isEmpty()) {
            throw new IllegalArgumentException("Layer '" + path + "': the root block cannot be replaced");
        }
        for (Place place : node.places) {
            if (!(place.parent instanceof AbstractBlock)) {
                throw new IllegalArgumentException(
                        "Layer '"
                                + path
                                + "': its parent "
                                + place.parent.getClass().getName()
                                + " is not an AbstractBlock; its children cannot be replaced");
            }
            for (FieldRef ref : fieldRefs(place.parent, block)) {
                ref.check(replacement, path);
            }
        }
    }

    /**
     * Replaces a block everywhere it is held: the parents' child lists (same index, same key) and any
     * field, List element or array element of a parent that refers to it. Call {@link
     * #checkReplaceable} first.
     *
     * @param block the block to replace
     * @param replacement its replacement
     */
    public void replace(Block block, Block replacement) {
        Node node = nodes.get(block);
        for (Place place : node.places) {
            BlockList children = childrenOf(place.parent);
            children.remove(place.index);
            children.add(place.index, place.key, replacement);
            for (FieldRef ref : fieldRefs(place.parent, block)) {
                ref.set(replacement);
            }
        }
        nodes.remove(block);
        node.block = replacement;
        nodes.put(replacement, node);
    }

    private static BlockList childrenOf(Block parent) {
        try {
            return (BlockList) CHILDREN.get(parent);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot read the children of " + parent, e);
        }
    }

    private static List<FieldRef> fieldRefs(Block parent, Block target) {
        List<FieldRef> refs = new ArrayList<>();
        for (Class<?> c = parent.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) {
                    continue;
                }
                Object value;
                try {
                    f.setAccessible(true);
                    value = f.get(parent);
                } catch (ReflectiveOperationException | RuntimeException e) {
                    continue;
                }
                if (value == target) {
                    refs.add(new FieldRef(parent, f, -1, null));
                } else if (value instanceof List && !(value instanceof BlockList)) {
                    List<?> list = (List<?>) value;
                    for (int i = 0; i < list.size(); i++) {
                        if (list.get(i) == target) {
                            refs.add(new FieldRef(parent, f, i, list));
                        }
                    }
                } else if (value != null && value.getClass().isArray() && !f.getType().getComponentType().isPrimitive()) {
                    int n = Array.getLength(value);
                    for (int i = 0; i < n; i++) {
                        if (Array.get(value, i) == target) {
                            refs.add(new FieldRef(parent, f, i, value));
                        }
                    }
                }
            }
        }
        return refs;
    }

    private static Field childrenField() {
        try {
            Field f = AbstractBlock.class.getDeclaredField("children");
            f.setAccessible(true);
            return f;
        } catch (NoSuchFieldException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** A block with its first path and every place that holds it. */
    private static final class Node {
        Block block;
        final String path;
        final List<Place> places = new ArrayList<>();

        Node(Block block, String path) {
            this.block = block;
            this.path = path;
        }
    }

    /** A parent's child slot. */
    private static final class Place {
        final Block parent;
        final int index;
        final String key;

        Place(Block parent, int index, String key) {
            this.parent = parent;
            this.index = index;
            this.key = key;
        }
    }

    /** A field of a parent, or an element of a List or array held in one, that refers to a block. */
    private static final class FieldRef {
        final Object owner;
        final Field field;
        final int index;
        final Object container;

        FieldRef(Object owner, Field field, int index, Object container) {
            this.owner = owner;
            this.field = field;
            this.index = index;
            this.container = container;
        }

        void check(Block replacement, String path) {
            String where = owner.getClass().getSimpleName() + "." + field.getName();
            if (container == null) {
                if (!field.getType().isInstance(replacement)) {
                    throw incompatible(path, where, field.getType(), replacement);
                }
            } else if (container instanceof List) {
                @SuppressWarnings("unchecked")
                List<Object> list = (List<Object>) container;
                try {
                    list.set(index, list.get(index)); // probe: an unmodifiable list throws here
                } catch (UnsupportedOperationException e) {
                    throw new IllegalArgumentException(
                            "Layer '" + path + "': " + where + " is an unmodifiable list", e);
                }
            } else if (!container.getClass().getComponentType().isInstance(replacement)) {
                throw incompatible(path, where, container.getClass().getComponentType(), replacement);
            }
        }

        void set(Block replacement) {
            try {
                if (container == null) {
                    field.set(owner, replacement);
                } else if (container instanceof List) {
                    @SuppressWarnings("unchecked")
                    List<Object> list = (List<Object>) container;
                    list.set(index, replacement);
                } else {
                    Array.set(container, index, replacement);
                }
            } catch (IllegalAccessException e) {
                throw new IllegalStateException("cannot patch " + field, e);
            }
        }

        private static IllegalArgumentException incompatible(
                String path, String where, Class<?> type, Block replacement) {
            return new IllegalArgumentException(
                    "Layer '"
                            + path
                            + "': "
                            + where
                            + " is declared "
                            + type.getSimpleName()
                            + " and cannot hold a "
                            + replacement.getClass().getSimpleName());
        }
    }
}
