package ai.djl.jlcm.nn;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Embedding;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The parameters of a grouped-codebook weight inside a block, and their decoding on the engine.
 *
 * <p>Parameters, in order: {@code indices} (UINT8, bit-packed, one per vector of {@code
 * vectorLength} consecutive weights of a row), {@code groups} (UINT8, bit-packed group id per
 * neuron), {@code codebook} (FLOAT32 {@code [codebooks, 2^bits · vectorLength]}) and, in SCALED
 * mode, {@code scales} (FLOAT32 {@code [groups]}). Blocks own one instance and delegate to it.
 *
 * <p>Decoding works on chunks of rows (output neurons) of about {@link #getChunkWeights()} weights:
 * a block's forward pass decodes a chunk, applies its op to it and moves on, so one chunk of dense
 * weight exists at a time. What is held between passes is set by the {@link MemoryMode}; held
 * arrays are built lazily (thread-safely) on the first inference pass and dropped by {@link
 * #invalidate()}, which blocks call when their parameters are loaded and on every training pass.
 * Forward passes may run on several threads at once; changing the mode or invalidating may not run
 * concurrently with them.
 *
 * <p>While a learner drives the weight ({@link #learnWith}), passes compute with the weight the
 * learner supplies from its side state (latents, soft mappings) instead of decoding the parameters:
 * a block learns through its own forward pass.
 */
public final class CodebookWeight {

    private final Shape shape;
    private final int bits;
    private final int vectorLength;
    private final CodebookMode mode;
    private final int groups;

    private final Parameter indices;
    private final Parameter groupIds;
    private final Parameter codebook;
    private final Parameter scales;

    /**
     * The default chunk size in weights (4 MB of float32). Measured (benchmarks module, {@code
     * CodebookLinearBenchmark}) on
     * 768×3072 and 3072×768 layers at 128 and 1024 tokens: 2^16 and 2^18 cost up to 2× more per pass
     * than 2^20 (each chunk pays a dozen engine calls and a narrower matrix product); 2^22 or one
     * chunk gain at most about 5 % while the transient (about 14 bytes per chunk weight in PACKED
     * mode) grows with the layer.
     */
    public static final long DEFAULT_CHUNK_WEIGHTS = 1L << 20;

    private final long rows;
    private final long cols;
    /** The indices per row: {@code cols / vectorLength}. */
    private final long indexCols;
    private final Object lock = new Object();
    private volatile MemoryMode memoryMode = MemoryMode.PACKED;
    private volatile long chunkWeights = DEFAULT_CHUNK_WEIGHTS;
    /** BYTE_INDICES: UINT8 words [rows, indexCols / byteWordValues()]; CACHE_*: the decoded weight; else null. */
    private volatile NDArray held;
    /** While a learner drives the weight: the weight of each pass, in the dense shape; else null. */
    private volatile Supplier<NDArray> learner;

    /**
     * Creates empty parameters for a weight of the given form with scalar codebooks.
     *
     * @param shape the dense weight shape
     * @param bits the index width, 1 to 8
     * @param mode the mode
     * @param groups the number of neuron groups
     */
    public CodebookWeight(Shape shape, int bits, CodebookMode mode, int groups) {
        this(shape, bits, 1, mode, groups);
    }

    /**
     * Creates empty parameters for a weight of the given form.
     *
     * @param shape the dense weight shape
     * @param bits the index width, 1 to 8
     * @param vectorLength the weights per codeword, dividing a row's length
     * @param mode the mode
     * @param groups the number of neuron groups
     */
    public CodebookWeight(Shape shape, int bits, int vectorLength, CodebookMode mode, int groups) {
        CompressedWeight.checkBits(bits);
        CompressedWeight.checkVectorLength(shape, vectorLength);
        if (groups < 1 || groups > shape.get(0)) {
            throw new IllegalArgumentException(
                    "groups must be in [1, " + shape.get(0) + "], got " + groups);
        }
        this.shape = shape;
        this.bits = bits;
        this.vectorLength = vectorLength;
        this.mode = mode;
        this.groups = groups;
        rows = shape.get(0);
        cols = shape.size() / rows;
        indexCols = cols / vectorLength;
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
                        weight.getShape(),
                        weight.getBits(),
                        weight.getVectorLength(),
                        weight.getMode(),
                        weight.getGroups());
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

    /**
     * Returns the codebook parameter, FLOAT32 {@code [codebooks, 2^bits · vectorLength]}: the values learning and
     * fine-tuning update.
     *
     * @return the parameter
     */
    public Parameter getCodebook() {
        return codebook;
    }

    /**
     * Returns the scale parameter, FLOAT32 {@code [groups]}, in SCALED mode.
     *
     * @return the parameter, or {@code null} in MULTI mode
     */
    public Parameter getScales() {
        return scales;
    }

    private void set(CompressedWeight w, NDManager manager) {
        long rows = shape.get(0);
        byte[] packed = w.packedIndices();
        byte[] packedGroups = BitPacking.pack(w.getGroupOf(), w.groupIdBits());
        indices.setArray(uint8(manager, packed));
        groupIds.setArray(uint8(manager, packedGroups));
        codebook.setArray(
                manager.create(
                        w.getCodebooks(),
                        new Shape(w.codebookCount(), (long) w.codewords() * vectorLength)));
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
                        indices.getArray().toByteArray(), bits, Math.toIntExact(rows * indexCols));
        int[] groupOf =
                BitPacking.unpack(
                        groupIds.getArray().toByteArray(),
                        CompressedWeight.groupIdBits(groups),
                        rows);
        float[] cb = codebook.getArray().toFloatArray();
        float[] sc = scales == null ? null : scales.getArray().toFloatArray();
        return new CompressedWeight(shape, bits, vectorLength, mode, groups, groupOf, cb, sc, idx);
    }

    /**
     * Decodes the dense weight on the engine.
     *
     * @param manager the manager that owns the result (normally the input's)
     * @param training whether the pass is for training (then held arrays are dropped and the
     *     result carries gradients to the codebook and scales)
     * @return a new array of the dense weight's shape
     */
    public NDArray decode(NDManager manager, boolean training) {
        Supplier<NDArray> l = learner;
        if (l != null) {
            NDArray w = l.get();
            w.attach(manager);
            return w;
        }
        try (NDManager tmp = manager.newSubManager()) {
            Decoder d = decoder(tmp, training, true);
            NDList parts = new NDList();
            long step = chunkRows(1);
            for (long r0 = 0; r0 < rows; r0 += step) {
                try (NDManager chunk = tmp.newSubManager()) {
                    NDArray part = d.rows(chunk, r0, Math.min(rows, r0 + step));
                    if (d.mode == MemoryMode.CACHE_FP32) {
                        part = part.duplicate(); // the held weight, or a view of it: not the caller's
                    }
                    part.attach(tmp);
                    parts.add(part);
                }
            }
            NDArray w = parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, 0);
            w.attach(manager);
            return w;
        }
    }

    /**
     * Decodes only some rows of the weight, for example the looked-up rows of an embedding table.
     *
     * @param manager the manager that owns the result
     * @param rowIds integer row numbers, any shape
     * @param training whether the pass is for training
     * @return the rows, shaped {@code rowIds.shape + weight.shape[1:]}
     * @throws IllegalArgumentException if a row number is out of range
     */
    public NDArray decodeRows(NDManager manager, NDArray rowIds, boolean training) {
        long[] ids = rowIds.toType(DataType.INT64, false).toLongArray();
        for (long r : ids) {
            if (r < 0 || r >= rows) {
                throw new IllegalArgumentException("row " + r + " outside [0, " + rows + ")");
            }
        }
        Supplier<NDArray> l = learner;
        if (l != null) {
            NDArray w = l.get().get(rowIds.toType(DataType.INT64, false));
            w.attach(manager);
            return w;
        }
        try (NDManager tmp = manager.newSubManager()) {
            Decoder d = decoder(tmp, training, false);
            NDArray idx = tmp.create(ids);
            NDArray w = d.selected(idx, ids);
            w = w.reshape(rowIds.getShape().addAll(shape.slice(1)));
            w.attach(manager);
            return w;
        }
    }

    /** An op applied to one chunk of decoded rows. */
    @FunctionalInterface
    interface ChunkOp {

        /**
         * Applies the op to rows {@code [r0, r1)}.
         *
         * @param tmp the manager of this chunk's temporaries
         * @param weight the decoded rows, {@code [r1 - r0, shape[1:]…]}
         * @param r0 the first row
         * @param r1 the end row
         * @return the op's output for these rows
         */
        NDArray apply(NDManager tmp, NDArray weight, long r0, long r1);
    }

    /**
     * Runs an op on each chunk of decoded rows and concatenates the outputs.
     *
     * @param input the pass's input; its manager owns the result
     * @param training whether the pass is for training
     * @param rowMultiple chunks hold a multiple of this many rows
     * @param op the op
     * @param axis the output axis the chunks are concatenated along
     * @return the concatenated output
     */
    NDArray applyInChunks(NDArray input, boolean training, long rowMultiple, ChunkOp op, int axis) {
        NDManager out = input.getManager();
        Supplier<NDArray> l = learner;
        if (l != null) {
            try (NDManager tmp = out.newSubManager()) {
                NDArray result = op.apply(tmp, l.get(), 0, rows);
                result.attach(out);
                return result;
            }
        }
        try (NDManager tmp = out.newSubManager()) {
            Decoder d = decoder(tmp, training, true);
            long step = d.mode == MemoryMode.CACHE_FP32 ? rows : chunkRows(rowMultiple);
            NDList parts = new NDList();
            for (long r0 = 0; r0 < rows; r0 += step) {
                long r1 = Math.min(rows, r0 + step);
                try (NDManager chunk = tmp.newSubManager()) { // frees the chunk's temporaries
                    NDArray part = op.apply(chunk, d.rows(chunk, r0, r1), r0, r1);
                    part.attach(tmp);
                    parts.add(part);
                }
            }
            // measured: writing the chunks into a preallocated output (NDArray.set) peaks higher
            NDArray result = parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, axis);
            result.attach(out);
            return result;
        }
    }

    /**
     * Returns rows {@code [r0, r1)} of an array (axis 0), as an array of {@code tmp}.
     *
     * @param tmp the manager of the slice
     * @param array the array, or {@code null}
     * @param r0 the first row
     * @param r1 the end row
     * @return the slice, or {@code null} for a {@code null} array
     */
    static NDArray rowsOf(NDManager tmp, NDArray array, long r0, long r1) {
        if (array == null) {
            return null;
        }

        NDArray slice = array.get(r0 + ":" + r1);
        slice.attach(tmp);
        return slice;
    }

    /**
     * Returns rows {@code [r0, r1)} of an array for use as an op's argument only: the array itself when
     * all its rows are asked (a slice costs as much as a small layer's product), else a slice owned by
     * {@code tmp}. Never call an op on the result: its output would belong to the array's manager.
     *
     * @param tmp the manager of a slice
     * @param array the array, or {@code null}
     * @param r0 the first row
     * @param r1 the end row
     * @return the array, a slice, or {@code null}
     */
    static NDArray argumentRows(NDManager tmp, NDArray array, long r0, long r1) {
        if (array != null && r0 == 0 && r1 == array.getShape().get(0)) {
            return array;
        }
        return rowsOf(tmp, array, r0, r1);
    }

    /** Returns the decoder of a pass: held arrays in inference, the parameters in training. */
    private Decoder decoder(NDManager tmp, boolean training, boolean byWords) {
        MemoryMode m = training ? MemoryMode.PACKED : memoryMode;
        if (training) {
            invalidate();
        }
        int word = m == MemoryMode.BYTE_INDICES ? byteWordValues() : byWords && m == MemoryMode.PACKED ? wordValues() : 1;
        return new Decoder(tmp, m, m == MemoryMode.PACKED ? null : held(m), word);
    }

    private long chunkRows(long rowMultiple) {
        long perChunk = Math.max(1, chunkWeights / cols);
        long units = Math.max(1, perChunk / rowMultiple);
        return Math.min(rows, units * rowMultiple);
    }

    /**
     * Returns how many consecutive indices one lookup decodes in PACKED mode: the largest {@code u}
     * in 8, 4, 2, 1 whose word of {@code u·bits <= 14} bits keys a table of {@code groups · 2^(u·bits)
     * · u · vectorLength} values no larger than a quarter of the weight (so building it per pass
     * stays cheap), with rows made of whole words.
     */
    private int wordValues() {
        for (int u = 8; u > 1; u /= 2) {
            long table = (long) groups * (1L << (u * bits)) * u * vectorLength;
            if (u * bits <= 14 && indexCols % u == 0 && table <= shape.size() / 4) {
                return u;
            }
        }
        return 1;
    }

    /**
     * Returns how many consecutive indices one byte holds in BYTE_INDICES mode: {@code floor(8 /
     * bits)}, or the largest smaller count that divides a row (a byte word never spans two rows).
     * 3-bit indices are held two to a byte, 2-bit ones four.
     */
    private int byteWordValues() {
        for (int u = 8 / bits; u > 1; u--) {
            if (indexCols % u == 0) {
                return u;
            }
        }
        return 1;
    }

    /** The per-pass decoding state: the index source and the codeword lookup table. */
    private final class Decoder {

        final NDManager tmp;
        final MemoryMode mode;
        final NDArray source;
        /** Indices per lookup word. */
        final int word;
        /**
         * Row {@code g·2^(word·bits) + w}: the {@code word · vectorLength} values of word {@code w} in
         * group {@code g}, scaled; flat for scalar single-index words.
         */
        final NDArray table;
        /** The first table row of each row's group, FLOAT32 [rows, 1]; null with one group. */
        final NDArray rowOffset;
        /**
         * With words of 12 bits whose rows are whole byte triples ({@link #twelveBitWords}): row
         * {@code 256·g + B} holds what a triple's middle byte {@code B} adds to its two words, plus
         * group {@code g}'s first table row, INT32 {@code [groups·256, 2]}; else null.
         */
        final NDArray middleByte;
        /** {@code 256·g} for each row's group, INT32 [rows, 1]; null without {@link #middleByte} or with one group. */
        final NDArray middleOffset;
        /** The weights of a triple's outer bytes in their words, INT32 {@code (1, 16)}; null without {@link #middleByte}. */
        final NDArray outerScale;

        Decoder(NDManager tmp, MemoryMode mode, NDArray source, int word) {
            this.tmp = tmp;
            this.mode = mode;
            this.source = source;
            this.word = word;
            if (mode == MemoryMode.CACHE_FP16 || mode == MemoryMode.CACHE_FP32) {
                table = null;
                rowOffset = null;
                middleByte = null;
                middleOffset = null;
                outerScale = null;
                return;
            }
            NDArray grp =
                    BitPacking.unpack(
                                    tmp,
                                    groupIds.getArray(),
                                    CompressedWeight.groupIdBits(groups),
                                    0,
                                    rows)
                            .reshape(rows, 1);
            int k = 1 << bits;
            // the codewords of each group, scaled: [groups, k · vectorLength]
            NDArray books = codebook.getArray().reshape(-1, k * vectorLength);
            books.attach(tmp);
            if (scales != null) {
                NDArray sc = scales.getArray().reshape(groups, 1);
                sc.attach(tmp);
                books = books.mul(sc);
            }
            long entries = 1L << (word * bits);
            table = flatLookUp() ? books.reshape(-1) : wordTable(tmp, books, k, word);
            rowOffset = groups == 1 ? null : grp.mul((float) entries);
            if (mode == MemoryMode.PACKED && twelveBitWords(word)) {
                middleByte = tmp.create(middleByteTable(groups), new Shape(groups * 256L, 2));
                middleOffset = groups == 1 ? null : grp.mul(256f).toType(DataType.INT32, false);
                outerScale = tmp.create(new int[] {1, 16});
            } else {
                middleByte = null;
                middleOffset = null;
                outerScale = null;
            }
        }

        /** Whether a lookup takes single values from a flat table (scalar codebooks, single-index words). */
        private boolean flatLookUp() {
            return word == 1 && vectorLength == 1;
        }

        /**
         * The codewords of every word of {@code u} indices in each group, {@code [groups · k^u, u ·
         * vectorLength]}: row {@code g·k^u + w} holds {@code books[g][digit_j(w)]} for {@code j < u},
         * where digit {@code j} of {@code w} is {@code (w >> j·bits) mod k}. Built from broadcast views
         * of the books and one stack, which is cheaper than a gather with a weight-sized index array.
         */
        private NDArray wordTable(NDManager tmp, NDArray books, int k, int u) {
            long[] full = new long[u + 2];
            Arrays.fill(full, k);
            full[0] = groups;
            full[u + 1] = vectorLength;
            Shape fullShape = new Shape(full);
            NDList columns = new NDList(u);
            for (int j = 0; j < u; j++) {
                long[] one = new long[u + 2];
                Arrays.fill(one, 1);
                one[0] = groups;
                one[u - j] = k; // digit j is axis u - j: the most significant digit comes first
                one[u + 1] = vectorLength;
                NDArray column = books.reshape(new Shape(one)).broadcast(fullShape);
                column.attach(tmp);
                columns.add(column);
            }
            return NDArrays.stack(columns, u + 1).reshape(-1, (long) u * vectorLength);
        }

        /**
         * Decodes rows {@code [r0, r1)} into a new FLOAT32 array of {@code into}; in CACHE_FP32 mode
         * the held weight or a view of it, an op argument only ({@link #argumentRows}).
         */
        NDArray rows(NDManager into, long r0, long r1) {
            long n = r1 - r0;
            Shape chunkShape = new Shape(n).addAll(shape.slice(1));
            switch (mode) {
                case CACHE_FP32:
                    return argumentRows(into, source, r0, r1);
                case CACHE_FP16:
                    return rowsOf(into, source, r0, r1).toType(DataType.FLOAT32, false);
                case BYTE_INDICES:
                    NDArray byteWords = rowsOf(into, source, r0, r1).toType(DataType.FLOAT32, false);
                    return lookUp(into, byteWords, offsetsOf(into, r0, r1)).reshape(chunkShape);
                default:
                    if (middleByte != null) {
                        return lookUp(into, twelveBitKeys(into, r0, r1), null).reshape(chunkShape);
                    }
                    NDArray words =
                            BitPacking.unpackWords(
                                            into, indices.getArray(), bits, word, r0 * indexCols, n * indexCols)
                                    .reshape(n, indexCols / word);
                    return lookUp(into, words, offsetsOf(into, r0, r1)).reshape(chunkShape);
            }
        }

        /**
         * The table keys of rows {@code [r0, r1)} with words of 12 bits, INT32 {@code [n, indexCols
         * / word]}: three packed bytes {@code B0 B1 B2} hold the words {@code B0 + 256·(B1 mod 16)} and
         * {@code floor(B1 / 16) + 16·B2}. The middle byte's two parts (and the group's first table row)
         * come from one lookup in {@link #middleByte}; the outer bytes only need a scale. It replaces
         * the general {@link BitPacking#unpackWords} (a product with a constant matrix, a floor and a
         * modulo) for these widths; the README's packed-decode paragraph has the measurements.
         */
        private NDArray twelveBitKeys(NDManager into, long r0, long r1) {
            long n = r1 - r0;
            long rowBytes = indexCols * bits / 8;
            NDArray triples = indices.getArray().get(r0 * rowBytes + ":" + r1 * rowBytes).reshape(n, rowBytes / 3, 3);
            triples.attach(into);
            NDArray middle = triples.get(":, :, 1").toType(DataType.INT32, false);
            NDArray offset = middleOffset == null ? null : argumentRows(into, middleOffset, r0, r1);
            if (offset != null) {
                middle = middle.add(offset);
            }
            NDArray parts = Embedding.embedding(middle, middleByte, SparseFormat.DENSE).head();
            NDArray outer = triples.get(":, :, ::2").toType(DataType.INT32, false).mul(outerScale);
            return parts.add(outer).reshape(n, indexCols / word);
        }

        /** Decodes the given rows, {@code [ids.length, cols]}; the decoder reads single values. */
        NDArray selected(NDArray idArray, long[] ids) {
            switch (mode) {
                case CACHE_FP32:
                    return rowsAt(tmp, matrix(source), idArray);
                case CACHE_FP16:
                    return rowsAt(tmp, matrix(source), idArray).toType(DataType.FLOAT32, false);
                case BYTE_INDICES:
                    NDArray bytes = rowsAt(tmp, source, idArray).toType(DataType.FLOAT32, false);
                    return lookUp(tmp, bytes, offsetsOf(idArray));
                default:
                    return lookUp(tmp, packedRows(ids), offsetsOf(idArray));
            }
        }

        private NDArray offsetsOf(NDManager into, long r0, long r1) {
            return rowOffset == null ? null : argumentRows(into, rowOffset, r0, r1);
        }

        private NDArray offsetsOf(NDArray idArray) {
            return rowOffset == null ? null : rowsAt(tmp, rowOffset, idArray);
        }

        /** Rows {@code ids} of an array (axis 0), owned by {@code into}. */
        private NDArray rowsAt(NDManager into, NDArray array, NDArray ids) {
            NDArray r = array.get(ids);
            r.attach(into);
            return r;
        }

        /** The held array as {@code [rows, cols]}, a view owned by {@code tmp}. */
        private NDArray matrix(NDArray array) {
            NDArray v = array.reshape(rows, cols);
            v.attach(tmp);
            return v;
        }

        /** Unpacks the indices of the given rows, {@code [ids.length, indexCols]} FLOAT32. */
        private NDArray packedRows(long[] ids) {
            long cols = indexCols;
            long blocks = (rows * cols + 7) / 8;
            NDArray packedBlocks = indices.getArray().reshape(blocks, bits);
            packedBlocks.attach(tmp);
            int n = ids.length;
            // the blocks covering each row, then the row's values among them
            long span = (cols + 7) / 8 + 1;
            long[] which = new long[Math.toIntExact(n * span)];
            long[] offset = new long[n];
            for (int i = 0; i < n; i++) {
                long first = ids[i] * cols / 8;
                offset[i] = ids[i] * cols - first * 8;
                for (long j = 0; j < span; j++) {
                    which[(int) (i * span + j)] = Math.min(blocks - 1, first + j);
                }
            }
            NDArray b = rowsAt(tmp, packedBlocks, tmp.create(which));
            NDArray values = BitPacking.unpackBlocks(tmp, b, bits).reshape(n, span * 8);
            NDArray pick =
                    tmp.create(offset)
                            .reshape(n, 1)
                            .add(tmp.arange(0, cols, 1, DataType.INT64).reshape(1, cols));
            return values.gather(pick, 1);
        }

        /**
         * Looks words ({@code [n, indexCols / word]}, FLOAT32 or INT32 integers) up in the table:
         * {@code [n, cols]}. Measured fastest: the embedding op (a row gather, INT32 keys) for words of
         * several values, a flat take with INT64 keys for single values.
         */
        private NDArray lookUp(NDManager into, NDArray words, NDArray offset) {
            NDArray key = offset == null ? words : words.add(offset);
            long n = key.getShape().get(0);
            if (flatLookUp()) {
                return table.take(into, key.toType(DataType.INT64, false)).reshape(n, cols);
            }
            key = key.toType(DataType.INT32, false);
            return Embedding.embedding(key, table, SparseFormat.DENSE).head().reshape(n, cols);
        }
    }

    /** Whether the PACKED decode reads words of 12 bits from byte triples (for tests). */
    boolean decodesTwelveBitWords() {
        return twelveBitWords(wordValues());
    }

    /**
     * Whether words of {@code word} values are 12 bits and every row is whole byte triples (3 bits
     * with 4 values per word, 6 bits with 2), so that {@link Decoder#twelveBitKeys} applies.
     */
    private boolean twelveBitWords(int word) {
        return word * bits == 12 && indexCols * bits % 24 == 0;
    }

    /**
     * The middle-byte table of words of 12 bits: row {@code 256·g + B} is {@code (256·(B mod 16) +
     * 4096·g, floor(B / 16) + 4096·g)}.
     */
    private static int[] middleByteTable(int groups) {
        int[] t = new int[groups * 256 * 2];
        for (int g = 0; g < groups; g++) {
            for (int b = 0; b < 256; b++) {
                t[(g * 256 + b) * 2] = 256 * (b & 15) + 4096 * g;
                t[(g * 256 + b) * 2 + 1] = (b >>> 4) + 4096 * g;
            }
        }
        return t;
    }

    /** Returns the held array of a mode, building it on first use. */
    private NDArray held(MemoryMode forMode) {
        NDArray h = held;
        if (h != null) {
            return h;
        }
        synchronized (lock) {
            if (held == null) {
                held = build(forMode);
            }
            return held;
        }
    }

    private NDArray build(MemoryMode forMode) {
        NDManager owner = codebook.getArray().getManager();
        boolean bytes = forMode == MemoryMode.BYTE_INDICES;
        DataType type =
                bytes ? DataType.UINT8 : forMode == MemoryMode.CACHE_FP16 ? DataType.FLOAT16 : DataType.FLOAT32;
        // filled chunk by chunk in place: the build holds the result and one chunk, never all chunks
        NDArray result = owner.zeros(bytes ? new Shape(rows, indexCols / byteWordValues()) : shape, type);
        try (NDManager tmp = owner.newSubManager()) {
            Decoder d = bytes ? null : new Decoder(tmp, MemoryMode.PACKED, null, wordValues());
            long step = chunkRows(1);
            for (long r0 = 0; r0 < rows; r0 += step) {
                long r1 = Math.min(rows, r0 + step);
                try (NDManager chunk = tmp.newSubManager()) {
                    NDArray part = bytes ? byteWords(chunk, r0, r1) : d.rows(chunk, r0, r1);
                    result.set(new NDIndex(r0 + ":" + r1), part.toType(type, false));
                }
            }
        } catch (RuntimeException e) {
            result.close();
            throw e;
        }
        return result;
    }

    /** The byte words of rows {@code [r0, r1)}: word {@code i} is {@code Σ_j v[i·u + j] · 2^(j·bits)}. */
    private NDArray byteWords(NDManager chunk, long r0, long r1) {
        int u = byteWordValues();
        NDArray values = BitPacking.unpack(chunk, indices.getArray(), bits, r0 * indexCols, (r1 - r0) * indexCols);
        if (u == 1) {
            return values.reshape(r1 - r0, indexCols);
        }
        float[] powers = new float[u];
        for (int j = 0; j < u; j++) {
            powers[j] = 1 << (j * bits);
        }
        return values.reshape(r1 - r0, indexCols / u, u)
                .matMul(chunk.create(powers, new Shape(u, 1)))
                .reshape(r1 - r0, indexCols / u);
    }

    /**
     * Lets a learner drive the weight: until this is called with {@code null}, every pass (decodes,
     * row lookups and the blocks' chunked ops) computes with the array the supplier returns for that
     * pass, whatever the training flag, and the parameters are not read. The learner decides whether
     * that array carries gradients (to its latents, codebooks and scales) or is a hard decode.
     *
     * @param weight supplies the weight of a pass, in the dense weight's shape; null to stop
     */
    public void learnWith(Supplier<NDArray> weight) {
        learner = weight;
    }

    /**
     * Sets what the weight keeps in memory between passes (default {@link MemoryMode#PACKED}); drops
     * what the previous mode held.
     *
     * @param mode the memory mode
     */
    public void setMemoryMode(MemoryMode mode) {
        synchronized (lock) {
            memoryMode = Objects.requireNonNull(mode, "mode");
            invalidate();
        }
    }

    /**
     * Returns what the weight keeps in memory between passes.
     *
     * @return the memory mode
     */
    public MemoryMode getMemoryMode() {
        return memoryMode;
    }

    /**
     * Sets the number of weights decoded at a time (rounded to whole rows, at least one row).
     *
     * @param weights the chunk size, at least 1
     */
    public void setChunkWeights(long weights) {
        if (weights < 1) {
            throw new IllegalArgumentException("chunk size must be at least 1 weight, got " + weights);
        }
        chunkWeights = weights;
    }

    /**
     * Returns the number of weights decoded at a time.
     *
     * @return the chunk size in weights
     */
    public long getChunkWeights() {
        return chunkWeights;
    }

    /**
     * Drops the arrays held by the memory mode; the next inference pass rebuilds them from the
     * parameters. Call it after changing the parameter arrays in place outside a training pass.
     */
    public void invalidate() {
        synchronized (lock) {
            NDArray h = held;
            held = null;
            if (h != null) {
                h.close();
            }
        }
    }

    /**
     * Returns the bytes held in memory by the memory mode, beyond the parameters.
     *
     * @return 0 until the first inference pass and in PACKED mode; else the held array's bytes
     */
    public long heldBytes() {
        NDArray h = held;
        return h == null ? 0 : h.size() * h.getDataType().getNumOfBytes();
    }

    /**
     * Returns the number of bits the parameters occupy when stored.
     *
     * @return the stored bits
     */
    public long storedBits() {
        return CompressedWeight.storedBits(shape, bits, vectorLength, mode, groups);
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
     * Returns the number of consecutive weights of a row that share one index.
     *
     * @return 1 for scalar codebooks
     */
    public int getVectorLength() {
        return vectorLength;
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
     * Writes the form of the weight, as the blocks' metadata version 2 has it (version 1 had no
     * vector length).
     *
     * @param os the stream
     * @throws IOException if writing fails
     */
    public void saveMetadata(DataOutputStream os) throws IOException {
        os.write(shape.getEncoded());
        os.writeByte(bits);
        os.writeByte(vectorLength);
        os.writeByte(mode.ordinal());
        os.writeInt(groups);
    }

    /**
     * Reads the form of the weight and checks it against this block's.
     *
     * @param is the stream
     * @param version the block's metadata version: 1 (scalar codebooks only, no vector length) or 2
     * @param layer the layer name, for messages
     * @throws IOException if reading fails
     * @throws MalformedModelException if the stored form differs from this block's
     */
    public void checkMetadata(DataInputStream is, int version, String layer)
            throws IOException, MalformedModelException {
        Shape storedShape = ParameterRecords.readShape(is, layer, "weight shape");
        int storedBits = is.readByte();
        int storedVector = version >= 2 ? is.readByte() : 1;
        int modeOrdinal = is.readByte();
        int storedGroups = is.readInt();
        CodebookMode[] modes = CodebookMode.values();
        if (!storedShape.equals(shape)
                || storedBits != bits
                || storedVector != vectorLength
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
                            + " bits, vectors of "
                            + storedVector
                            + ", mode #"
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
                indices, DataType.UINT8, new Shape(BitPacking.packedLength(rows * indexCols, bits)), manager, is, layer);
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
                new Shape(CompressedWeight.codebookCount(mode, groups), (1L << bits) * vectorLength),
                manager,
                is,
                layer);
        if (scales != null) {
            ParameterRecords.load(scales, DataType.FLOAT32, new Shape(groups), manager, is, layer);
        }
        try {
            check(layer);
        } catch (IllegalArgumentException e) {
            throw new MalformedModelException(e.getMessage(), e);
        }
        invalidate();
    }

    /**
     * Checks the parameters as loading does: group ids in range, codebooks and scales of the right
     * size and finite (an export checks them so that it never writes a model that would not load).
     *
     * @param layer the layer's name, for the message
     * @throws IllegalArgumentException naming the layer and what is wrong
     */
    public void check(String layer) {
        try {
            // not read(): unpacking every index would take 8 bytes per weight, and b-bit packed
            // indices are all codewords; the group ids, codebooks and scales can be wrong
            CompressedWeight.checkParts(
                    shape,
                    bits,
                    vectorLength,
                    mode,
                    groups,
                    BitPacking.unpack(groupIds.getArray().toByteArray(), CompressedWeight.groupIdBits(groups), (int) rows),
                    codebook.getArray().toFloatArray(),
                    scales == null ? null : scales.getArray().toFloatArray());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Layer " + layer + ": " + e.getMessage(), e);
        }
    }

    /**
     * Returns a short description: shape, bits, vector length (when above 1), mode, groups.
     *
     * @return the description
     */
    public String describe() {
        String vectors = vectorLength == 1 ? "" : ", vectors of " + vectorLength;
        return shape + ", " + bits + " bits" + vectors + ", " + mode + ", " + groups + " groups";
    }
}
