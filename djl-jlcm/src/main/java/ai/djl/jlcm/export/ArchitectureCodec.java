package ai.djl.jlcm.export;

import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CodebookLinear;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.LambdaBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv1d;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.convolutional.Conv3d;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.util.Pair;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import java.lang.reflect.Field;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Describes a block tree as JSON and builds it back, so a model directory can be loaded without the
 * code that built the model.
 *
 * <p>Supported blocks: {@link SequentialBlock}, {@link Linear}, {@link Conv1d}, {@link Conv2d}, {@link
 * Conv3d}, {@link BatchNorm}, and the parameter-free blocks of {@link Activation} and {@link Blocks}
 * that DJL names (ReLU, GELU, batchFlatten, …). Codebook blocks are described as the dense blocks they
 * replaced; the manifest lists the replacements. Other blocks (anonymous lambdas, custom classes) cannot
 * be described: save such a model with an architecture {@code BlockFactory} instead.
 */
public final class ArchitectureCodec {

    private static final Map<String, Supplier<Block>> NAMED_LAMBDAS =
            Map.ofEntries(
                    Map.entry("ReLU", Activation::reluBlock),
                    Map.entry("ReLU6", Activation::relu6Block),
                    Map.entry("sigmoid", Activation::sigmoidBlock),
                    Map.entry("Tanh", Activation::tanhBlock),
                    Map.entry("softPlus", Activation::softPlusBlock),
                    Map.entry("softSign", Activation::softSignBlock),
                    Map.entry("SELU", Activation::seluBlock),
                    Map.entry("GELU", Activation::geluBlock),
                    Map.entry("Mish", Activation::mishBlock),
                    Map.entry("identity", Blocks::identityBlock),
                    Map.entry("batchFlatten", Blocks::batchFlattenBlock));

    private ArchitectureCodec() {}

    /**
     * Describes a block tree.
     *
     * @param block the root block (initialized)
     * @return its description
     * @throws IllegalArgumentException naming the first block that cannot be described
     */
    public static JsonObject encode(Block block) {
        return encode(block, "");
    }

    private static JsonObject encode(Block block, String path) {
        JsonObject o = new JsonObject();
        String where = path.isEmpty() ? "the root block" : "block '" + path + "'";
        if (block instanceof CodebookLinear) {
            CodebookBlock cb = (CodebookBlock) block;
            o.addProperty("type", "linear");
            o.addProperty("units", cb.getCodebookWeight().getShape().get(0));
            o.addProperty("bias", cb.hasBias());
        } else if (block instanceof Linear) {
            o.addProperty("type", "linear");
            // the output shape gives the units of an uninitialized Linear too (a cache key before loading)
            o.addProperty("units", block.getOutputShapes(new Shape[] {new Shape(1, 1)})[0].get(1));
            o.addProperty("bias", block.getDirectParameters().contains("bias"));
        } else if (block instanceof Convolution
                && (block instanceof Conv1d
                        || block instanceof Conv2d
                        || block instanceof Conv3d
                        || block instanceof CodebookBlock)) {
            Convolution c = (Convolution) block;
            o.addProperty("type", "conv" + c.getKernelShape().dimension() + "d");
            o.add("kernel", shape(c.getKernelShape()));
            o.add("stride", shape(c.getStride()));
            o.add("padding", shape(c.getPadding()));
            o.add("dilation", shape(c.getDilation()));
            o.addProperty("filters", c.getFilters());
            o.addProperty("groups", c.getGroups());
            o.addProperty("bias", c.isIncludeBias());
        } else if (block instanceof BatchNorm) {
            o.addProperty("type", "batchNorm");
            o.addProperty("axis", (Number) field(block, "axis"));
            o.addProperty("epsilon", (Number) field(block, "epsilon"));
            o.addProperty("momentum", (Number) field(block, "momentum"));
            o.addProperty("center", (Boolean) field(block, "center"));
            o.addProperty("scale", (Boolean) field(block, "scale"));
        } else if (block instanceof LambdaBlock
                && NAMED_LAMBDAS.containsKey(((LambdaBlock) block).getName())) {
            o.addProperty("type", "lambda");
            o.addProperty("name", ((LambdaBlock) block).getName());
        } else if (block.getClass() == SequentialBlock.class) {
            o.addProperty("type", "sequential");
            JsonArray children = new JsonArray();
            for (Pair<String, Block> child : block.getChildren()) {
                String childPath = path.isEmpty() ? child.getKey() : path + "/" + child.getKey();
                JsonObject c = encode(child.getValue(), childPath);
                c.addProperty("key", child.getKey());
                children.add(c);
            }
            o.add("children", children);
        } else {
            String what =
                    block instanceof LambdaBlock
                            ? "a LambdaBlock named '" + ((LambdaBlock) block).getName() + "'"
                            : "a " + block.getClass().getName();
            throw new IllegalArgumentException(
                    "Cannot describe "
                            + where
                            + ": it is "
                            + what
                            + ". Save this model with an architecture BlockFactory instead.");
        }
        return o;
    }

    /**
     * Builds an uninitialized block tree from its description.
     *
     * @param json the description
     * @return the root block
     * @throws IllegalArgumentException if the description is malformed
     */
    public static Block decode(JsonObject json) {
        return decode(json, "");
    }

    private static Block decode(JsonObject o, String path) {
        String type = string(o, "type", path);
        switch (type) {
            case "linear":
                return Linear.builder()
                        .setUnits(o.get("units").getAsLong())
                        .optBias(o.get("bias").getAsBoolean())
                        .build();
            case "conv1d":
            case "conv2d":
            case "conv3d":
                return convolution(type, o);
            case "batchNorm":
                return BatchNorm.builder()
                        .optAxis(o.get("axis").getAsInt())
                        .optEpsilon(o.get("epsilon").getAsFloat())
                        .optMomentum(o.get("momentum").getAsFloat())
                        .optCenter(o.get("center").getAsBoolean())
                        .optScale(o.get("scale").getAsBoolean())
                        .build();
            case "lambda":
                Supplier<Block> lambda = NAMED_LAMBDAS.get(string(o, "name", path));
                if (lambda == null) {
                    throw new IllegalArgumentException(
                            "Block '" + path + "': unknown lambda " + o.get("name"));
                }
                return lambda.get();
            case "sequential":
                SequentialBlock seq = new SequentialBlock();
                for (JsonElement e : o.getAsJsonArray("children")) {
                    JsonObject c = e.getAsJsonObject();
                    String key = string(c, "key", path);
                    seq.add(decode(c, path.isEmpty() ? key : path + "/" + key));
                    String actual = seq.getChildren().keyAt(seq.getChildren().size() - 1);
                    if (!actual.equals(key)) {
                        throw new IllegalArgumentException(
                                "Block '" + path + "': child key " + actual + " != described " + key);
                    }
                }
                return seq;
            default:
                throw new IllegalArgumentException("Block '" + path + "': unknown type " + type);
        }
    }

    private static Block convolution(String type, JsonObject o) {
        Shape kernel = shape(o.getAsJsonArray("kernel"));
        Shape stride = shape(o.getAsJsonArray("stride"));
        Shape padding = shape(o.getAsJsonArray("padding"));
        Shape dilation = shape(o.getAsJsonArray("dilation"));
        int filters = o.get("filters").getAsInt();
        int groups = o.get("groups").getAsInt();
        boolean bias = o.get("bias").getAsBoolean();
        switch (type) {
            case "conv1d":
                return Conv1d.builder().setKernelShape(kernel).optStride(stride).optPadding(padding)
                        .optDilation(dilation).setFilters(filters).optGroups(groups).optBias(bias)
                        .build();
            case "conv2d":
                return Conv2d.builder().setKernelShape(kernel).optStride(stride).optPadding(padding)
                        .optDilation(dilation).setFilters(filters).optGroups(groups).optBias(bias)
                        .build();
            default:
                return Conv3d.builder().setKernelShape(kernel).optStride(stride).optPadding(padding)
                        .optDilation(dilation).setFilters(filters).optGroups(groups).optBias(bias)
                        .build();
        }
    }

    private static String string(JsonObject o, String key, String path) {
        JsonElement e = o.get(key);
        if (e == null || !e.isJsonPrimitive()) {
            throw new IllegalArgumentException("Block '" + path + "': missing '" + key + "'");
        }
        return e.getAsString();
    }

    private static JsonArray shape(Shape shape) {
        JsonArray a = new JsonArray();
        for (long d : shape.getShape()) {
            a.add(d);
        }
        return a;
    }

    private static Shape shape(JsonArray a) {
        long[] dims = new long[a.size()];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = a.get(i).getAsLong();
        }
        return new Shape(dims);
    }

    private static Object field(Object owner, String name) {
        try {
            Field f = owner.getClass().getDeclaredField(name);
            f.setAccessible(true);
            return f.get(owner);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read " + name + " of " + owner.getClass(), e);
        }
    }
}
