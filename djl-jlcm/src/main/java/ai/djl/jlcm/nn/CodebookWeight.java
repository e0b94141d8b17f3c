package ai.djl.jlcm.nn;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The parameters of a grouped-codebook weight inside a block, and their decoding on the engine.
 *
 * <p>Parameters, in order: {@code indices} (UINT8, bit-packed), {@code groups} (UINT8, bit-packed
 * group id per neuron), {@code codebook} (FLOAT32 {@code [codebooks, 2^bits]}) and, in SCALED mode,
 * {@code scales} (FLOAT32 {@code [groups]}). Blocks own one instance and delegate to it.
 */
public final class CodebookWeight {

    private final Shape shape;
    private final int bits;
    private final CodebookMode mode;
    private final int groups;

    private final Parameter indices;
    private final Parameter groupIds;
    private final Parameter codebook;
    private final Parameter scales;

    private boolean cacheDecoded;
    private NDArray decoded;

    /**
     * Creates empty parameters for a weight of the given form.
     *
     * @param shape the dense weight shape
     * @param bits the index width, 1 to 8
     * @param mode the mode
     * @param groups the number of neuron groups
     */
    public CodebookWeight(Shape shape, int bits, CodebookMode mode, int groups) {
        CompressedWeight.checkBits(bits);
        if (groups < 1 || groups > shape.get(0)) {
            throw new IllegalArgumentException(
                    "groups must be in [1, " + shape.get(0) + "], got " + groups);
        }
        this.shape = shape;
        this.bits = bits;
        this.mode = mode;
        this.groups = groups;
        indices = integerParameter("indices");
        groupIds = integerParameter("groups");
        codebook = Parameter.builder().setName("codebook").setType(Parameter.Type.WEIGHT).build();
        scales =
                mode == CodebookMode.SCALED
                        ? Parameter.builder()
                                .setName("scales")
                                .setType(Parameter.Type.WEIGHT)
                                .build()
                        : null;
    }

    /**
     * Creates parameters holding a compressed weight.
     *
     * @param weight the compressed weight
     * @param manager the manager that owns the parameter arrays
     * @return the parameters
     */
    public static CodebookWeight of(CompressedWeight weight, NDManager manager) {
        CodebookWeight cw =
                new CodebookWeight(
                        weight.getShape(), weight.getBits(), weight.getMode(), weight.getGroups());
        cw.set(weight, manager);
        return cw;
    }

    private static Parameter integerParameter(String name) {
        // RUNNING_MEAN keeps DJL from unfreezing integer arrays, which cannot hold gradients.
        return Parameter.builder()
                .setName(name)
                .setType(Parameter.Type.RUNNING_MEAN)
                .optRequiresGrad(false)
                .build();
    }

    /**
     * Returns the parameters in storage order.
     *
     * @return the parameters
     */
    public List<Parameter> parameters() {
        List<Parameter> list = new ArrayList<>(4);
        list.add(indices);
        list.add(groupIds);
        list.add(codebook);
        if (scales != null) {
            list.add(scales);
        }
        return list;
    }

    private void set(CompressedWeight w, NDManager manager) {
        long rows = shape.get(0);
        byte[] packed = BitPacking.pack(w.getIndices(), bits);
        byte[] packedGroups = BitPacking.pack(w.getGroupOf(), w.groupIdBits());
        indices.setArray(uint8(manager, packed));
        groupIds.setArray(uint8(manager, packedGroups));
        codebook.setArray(
                manager.create(w.getCodebooks(), new Shape(w.codebookCount(), w.codewords())));
        if (scales != null) {
            scales.setArray(manager.create(w.getScales()));
        }
        if (w.rows() != rows) {
            throw new IllegalStateException("row count mismatch");
        }
    }

    private static NDArray uint8(NDManager manager, byte[] data) {
        return manager.create(ByteBuffer.wrap(data), new Shape(data.length), DataType.UINT8);
    }

    /**
     * Reads the parameters back into Java memory.
     *
     * @return the compressed weight
     */
    public CompressedWeight read() {
        int rows = Math.toIntExact(shape.get(0));
        int[] idx =
                BitPacking.unpack(
                        indices.getArray().toByteArray(), bits, Math.toIntExact(shape.size()));
        int[] groupOf =
                BitPacking.unpack(
                        groupIds.getArray().toByteArray(),
                        CompressedWeight.groupIdBits(groups),
                        rows);
        float[] cb = codebook.getArray().toFloatArray();
        float[] sc = scales == null ? null : scales.getArray().toFloatArray();
        return new CompressedWeight(shape, bits, mode, groups, groupOf, cb, sc, idx);
    }

    /**
     * Decodes the dense weight on the engine.
     *
     * <p>With decoded-weight caching on, the first decode outside training is kept (in the
     * parameters' manager) and returned by later calls outside training.
     *
     * @param manager the manager that owns the result (normally the input's)
     * @param training whether the forward pass is for training
     * @return the dense weight
     */
    public NDArray decode(NDManager manager, boolean training) {
        if (cacheDecoded && !training) {
            if (decoded == null) {
                decoded = decodeInto(codebook.getArray().getManager());
            }
            return decoded;
        }
        return decodeInto(manager);
    }

    private NDArray decodeInto(NDManager target) {
        long rows = shape.get(0);
        long cols = shape.size() / rows;
        NDArray cb = codebook.getArray();
        try (NDManager tmp = target.newSubManager()) {
            NDArray idx = BitPacking.unpack(tmp, indices.getArray(), bits, shape.size());
            NDArray grp =
                    BitPacking.unpack(
                            tmp, groupIds.getArray(), CompressedWeight.groupIdBits(groups), rows);
            NDArray weight;
            if (mode == CodebookMode.SCALED) {
                NDArray rowScale = scales.getArray().take(tmp, grp).reshape(rows, 1);
                weight = cb.take(tmp, idx.reshape(rows, cols)).mul(rowScale);
            } else {
                NDArray flat = grp.reshape(rows, 1).mul(1L << bits).add(idx.reshape(rows, cols));
                weight = cb.take(tmp, flat);
            }
            weight = weight.reshape(shape);
            weight.attach(target);
            return weight;
        }
    }

    /**
     * Turns caching of the decoded weight for inference on or off.
     *
     * @param cache whether to keep the decoded weight
     */
    public void setCacheDecoded(boolean cache) {
        cacheDecoded = cache;
        if (!cache && decoded != null) {
            decoded.close();
            decoded = null;
        }
    }

    /**
     * Returns whether the decoded weight is cached for inference.
     *
     * @return whether caching is on
     */
    public boolean isCacheDecoded() {
        return cacheDecoded;
    }

    /**
     * Returns the number of bits the parameters occupy when stored.
     *
     * @return the stored bits
     */
    public long storedBits() {
        return CompressedWeight.storedBits(shape, bits, mode, groups);
    }

    /**
     * Returns the dense weight shape.
     *
     * @return the shape
     */
    public Shape getShape() {
        return shape;
    }

    /**
     * Returns the index width.
     *
     * @return the bits
     */
    public int getBits() {
        return bits;
    }

    /**
     * Returns the mode.
     *
     * @return the mode
     */
    public CodebookMode getMode() {
        return mode;
    }

    /**
     * Returns the number of groups.
     *
     * @return the groups
     */
    public int getGroups() {
        return groups;
    }

    /**
     * Writes the form of the weight.
     *
     * @param os the stream
     * @throws IOException if writing fails
     */
    public void saveMetadata(DataOutputStream os) throws IOException {
        os.write(shape.getEncoded());
        os.writeByte(bits);
        os.writeByte(mode.ordinal());
        os.writeInt(groups);
    }

    /**
     * Reads the form of the weight and checks it against this block's.
     *
     * @param is the stream
     * @param layer the layer name, for messages
     * @throws IOException if reading fails
     * @throws MalformedModelException if the stored form differs from this block's
     */
    public void checkMetadata(DataInputStream is, String layer)
            throws IOException, MalformedModelException {
        Shape storedShape = ParameterRecords.readShape(is, layer, "weight shape");
        int storedBits = is.readByte();
        int modeOrdinal = is.readByte();
        int storedGroups = is.readInt();
        CodebookMode[] modes = CodebookMode.values();
        if (!storedShape.equals(shape)
                || storedBits != bits
                || modeOrdinal < 0
                || modeOrdinal >= modes.length
                || modes[modeOrdinal] != mode
                || storedGroups != groups) {
            throw new MalformedModelException(
                    "Layer "
                            + layer
                            + ": the parameter file holds a weight of shape "
                            + storedShape
                            + ", "
                            + storedBits
                            + " bits, mode #"
                            + modeOrdinal
                            + ", "
                            + storedGroups
                            + " groups; the block expects "
                            + describe());
        }
    }

    /**
     * Loads the parameters from a {@code .params} stream, checking each record's name, type and
     * shape before it is allocated, then the values (index and group ranges).
     *
     * @param manager the manager that owns the arrays
     * @param is the stream, positioned at the first parameter record
     * @param layer the layer name, for messages
     * @throws IOException if reading fails
     * @throws MalformedModelException if a record is not the expected one, or a value is invalid
     */
    public void loadParameters(NDManager manager, DataInputStream is, String layer)
            throws IOException, MalformedModelException {
        long rows = shape.get(0);
        ParameterRecords.load(
                indices, DataType.UINT8, new Shape(BitPacking.packedLength(shape.size(), bits)), manager, is, layer);
        ParameterRecords.load(
                groupIds,
                DataType.UINT8,
                new Shape(BitPacking.packedLength(rows, CompressedWeight.groupIdBits(groups))),
                manager,
                is,
                layer);
        ParameterRecords.load(
                codebook,
                DataType.FLOAT32,
                new Shape(CompressedWeight.codebookCount(mode, groups), 1 << bits),
                manager,
                is,
                layer);
        if (scales != null) {
            ParameterRecords.load(scales, DataType.FLOAT32, new Shape(groups), manager, is, layer);
        }
        try {
            read();
        } catch (IllegalArgumentException e) {
            throw new MalformedModelException("Layer " + layer + ": " + e.getMessage(), e);
        }
    }

    /**
     * Returns a short description: shape, bits, mode, groups.
     *
     * @return the description
     */
    public String describe() {
        return shape + ", " + bits + " bits, " + mode + ", " + groups + " groups";
    }
}
