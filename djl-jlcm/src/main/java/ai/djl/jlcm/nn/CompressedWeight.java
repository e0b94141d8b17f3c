package ai.djl.jlcm.nn;

import ai.djl.ndarray.types.Shape;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;

/**
 * A weight tensor in grouped-codebook form, held in Java memory.
 *
 * <p>The weight is seen as a matrix of {@code rows} output neurons by {@code cols} inputs (the
 * remaining dimensions flattened). Each neuron belongs to one of {@code groups} groups, each weight
 * holds an index into a sorted codebook of {@code 2^bits} codewords:
 *
 * <ul>
 *   <li>{@link CodebookMode#SCALED}: one codebook, one scale per group, {@code w = s[g(o)] ·
 *       c[I(o,n)]};
 *   <li>{@link CodebookMode#MULTI}: one codebook per group, {@code w = c[g(o)][I(o,n)]}.
 * </ul>
 *
 * <p>With a vector length {@code d > 1} (vector codebooks), an index selects a codeword of {@code
 * d} values for {@code d} consecutive weights of a row: {@code w[o][n·d + j] = c[g(o)][I(o,n)][j]}
 * (scaled in SCALED mode). A weight then costs {@code bits / d} index bits, and the codewords need
 * no order.
 *
 * <p>The stored form ({@link #storedBits()}) is: indices bit-packed at {@code bits} bits, one group
 * id per neuron bit-packed at {@link #groupIdBits()} bits, codebooks and scales as float32.
 */
public final class CompressedWeight {

    private static final Logger logger = LoggerFactory.getLogger(CompressedWeight.class);

    /** The smallest supported index width. */
    public static final int MIN_BITS = 1;

    /** The largest supported index width. */
    public static final int MAX_BITS = 8;

    /** The largest supported vector length (weights per codeword). */
    public static final int MAX_VECTOR_LENGTH = 8;

    private final Shape shape;
    private final int bits;
    private final int vectorLength;
    private final CodebookMode mode;
    private final int groups;
    private final int[] groupOf;
    private final float[] codebooks;
    private final float[] scales;
    /** The indices as stored, bit-packed at {@code bits} bits (an int per weight would be 4 to 32 times more). */
    private final byte[] packedIndices;

    /**
     * Creates a compressed weight with scalar codebooks (one codeword per weight), validating every
     * field.
     *
     * @param shape the shape of the dense weight; dimension 0 counts the neurons
     * @param bits index width, 1 to 8
     * @param mode how groups share codewords
     * @param groups the number of neuron groups
     * @param groupOf the group of each neuron, each in {@code [0, groups)}
     * @param codebooks the codebooks, row-major {@code [1 or groups][2^bits]}
     * @param scales one scale per group in {@code SCALED} mode, {@code null} in {@code MULTI}
     * @param indices one index per weight, row-major {@code [rows][cols]}
     */
    public CompressedWeight(
            Shape shape,
            int bits,
            CodebookMode mode,
            int groups,
            int[] groupOf,
            float[] codebooks,
            float[] scales,
            int[] indices) {
        this(shape, bits, 1, mode, groups, groupOf, codebooks, scales, indices);
    }

    /**
     * Creates a compressed weight, validating every field.
     *
     * @param shape the shape of the dense weight; dimension 0 counts the neurons
     * @param bits index width, 1 to 8
     * @param vectorLength the weights per codeword, dividing a row's length
     * @param mode how groups share codewords
     * @param groups the number of neuron groups
     * @param groupOf the group of each neuron, each in {@code [0, groups)}
     * @param codebooks the codebooks, row-major {@code [1 or groups][2^bits][vectorLength]}
     * @param scales one scale per group in {@code SCALED} mode, {@code null} in {@code MULTI}
     * @param indices one index per vector, row-major {@code [rows][cols / vectorLength]}
     */
    public CompressedWeight(
            Shape shape,
            int bits,
            int vectorLength,
            CodebookMode mode,
            int groups,
            int[] groupOf,
            float[] codebooks,
            float[] scales,
            int[] indices) {
        checkParts(shape, bits, vectorLength, mode, groups, groupOf, codebooks, scales);
        this.shape = shape;
        this.bits = bits;
        this.vectorLength = vectorLength;
        this.mode = mode;
        this.groups = groups;
        this.groupOf = groupOf.clone();
        this.codebooks = codebooks.clone();
        this.scales = scales == null ? null : scales.clone();
        int rows = rows();
        int k = codewords();
        if (indices.length != (long) rows * indexCols()) {
            throw new IllegalArgumentException(
                    "expected " + (long) rows * indexCols() + " indices, got " + indices.length);
        }
        for (int i : indices) {
            if (i < 0 || i >= k) {
                throw new IllegalArgumentException("index " + i + " outside [0, " + k + ")");
            }
        }
        this.packedIndices = BitPacking.pack(indices, bits);
    }

    /**
     * Checks that an index width is supported.
     *
     * @param bits the width to check
     * @throws IllegalArgumentException if it is outside 1 to 8
     */
    public static void checkBits(int bits) {
        if (bits < MIN_BITS || bits > MAX_BITS) {
            throw new IllegalArgumentException(
                    "bits must be between " + MIN_BITS + " and " + MAX_BITS + ", got " + bits);
        }
    }

    /**
     * Returns the number of neuron groups a weight gets: the requested number, capped at its rows
     * (a group holds at least one neuron). A cap is logged, since it raises the stored bits per
     * weight above what the request implies.
     *
     * @param requested the requested groups, at least 1
     * @param shape the dense weight shape
     * @return {@code min(requested, rows)}
     */
    public static int groupsFor(int requested, Shape shape) {
        long rows = shape.get(0);
        if (requested <= rows) {
            return requested;
        }
        logger.warn(
                "{} neuron groups requested for a weight of shape {}, which has {} rows: using {} groups, one per row",
                requested,
                shape,
                rows,
                rows);
        return (int) rows;
    }

    /**
     * Returns the width of a stored group id for a number of groups.
     *
     * @param groups the number of groups
     * @return {@code max(1, ceil(log2(groups)))}
     */
    public static int groupIdBits(int groups) {
        return Math.max(1, 32 - Integer.numberOfLeadingZeros(groups - 1));
    }

    /**
     * Returns the number of codebooks a layer stores.
     *
     * @param mode the mode
     * @param groups the number of groups
     * @return 1 in SCALED mode, {@code groups} in MULTI mode
     */
    public static int codebookCount(CodebookMode mode, int groups) {
        return mode == CodebookMode.SCALED ? 1 : groups;
    }

    /**
     * Checks that a vector length suits a weight shape.
     *
     * @param shape the dense weight shape
     * @param vectorLength the weights per codeword
     * @throws IllegalArgumentException if it is outside 1 to {@value #MAX_VECTOR_LENGTH} or does not
     *     divide a row
     */
    public static void checkVectorLength(Shape shape, int vectorLength) {
        long cols = shape.size() / Math.max(1, shape.get(0));
        if (vectorLength < 1 || vectorLength > MAX_VECTOR_LENGTH || cols % vectorLength != 0) {
            throw new IllegalArgumentException(
                    "vector length must be in [1, "
                            + MAX_VECTOR_LENGTH
                            + "] and divide the "
                            + cols
                            + " weights of a row of "
                            + shape
                            + ", got "
                            + vectorLength);
        }
    }

    /**
     * Returns the number of stored bits of a compressed weight of the given form.
     *
     * @param shape the dense weight shape
     * @param bits the index width
     * @param vectorLength the weights per codeword
     * @param mode the mode
     * @param groups the number of groups
     * @return index, group id, codebook and scale bits
     */
    public static long storedBits(Shape shape, int bits, int vectorLength, CodebookMode mode, int groups) {
        long rows = shape.get(0);
        long indexBytes = BitPacking.packedLength(shape.size() / vectorLength, bits);
        long groupBytes = BitPacking.packedLength(rows, groupIdBits(groups));
        long floats = (long) codebookCount(mode, groups) * (1L << bits) * vectorLength;
        if (mode == CodebookMode.SCALED) {
            floats += groups;
        }
        return 8 * (indexBytes + groupBytes) + 32 * floats;
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
     * Returns the index width in bits.
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
     * Returns the number of indices per neuron.
     *
     * @return {@code cols() / getVectorLength()}
     */
    public int indexCols() {
        return cols() / vectorLength;
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
     * Returns the number of neurons (rows).
     *
     * @return the rows
     */
    public int rows() {
        return Math.toIntExact(shape.get(0));
    }

    /**
     * Returns the number of weights per neuron (columns).
     *
     * @return the columns
     */
    public int cols() {
        return Math.toIntExact(shape.size() / shape.get(0));
    }

    /**
     * Returns the number of codewords per codebook.
     *
     * @return {@code 2^bits}
     */
    public int codewords() {
        return 1 << bits;
    }

    /**
     * Returns the number of codebooks.
     *
     * @return 1 in SCALED mode, groups in MULTI mode
     */
    public int codebookCount() {
        return codebookCount(mode, groups);
    }

    /**
     * Returns the fraction of codewords that some weight maps to.
     *
     * @return the usage in [0, 1]
     */
    public double codewordUsage() {
        int k = codewords();
        boolean[] used = new boolean[codebookCount() * k];
        int cols = indexCols();
        int[] indices = getIndices();
        for (int o = 0; o < groupOf.length; o++) {
            int book = mode == CodebookMode.MULTI ? groupOf[o] : 0;
            for (int n = 0; n < cols; n++) {
                used[book * k + indices[o * cols + n]] = true;
            }
        }
        int count = 0;
        for (boolean u : used) {
            count += u ? 1 : 0;
        }
        return (double) count / used.length;
    }

    /**
     * Returns the group of each neuron.
     *
     * @return a copy of the group ids
     */
    public int[] getGroupOf() {
        return groupOf.clone();
    }

    /**
     * Returns the codebooks, row-major {@code [codebookCount][codewords][vectorLength]}.
     *
     * @return a copy of the codebooks
     */
    public float[] getCodebooks() {
        return codebooks.clone();
    }

    /**
     * Returns the per-group scales.
     *
     * @return a copy of the scales, or {@code null} in MULTI mode
     */
    public float[] getScales() {
        return scales == null ? null : scales.clone();
    }

    /**
     * Returns the indices, row-major {@code [rows][indexCols()]}.
     *
     * @return a copy of the indices
     */
    public int[] getIndices() {
        return BitPacking.unpack(packedIndices, bits, Math.toIntExact(shape.size() / vectorLength));
    }

    /**
     * Returns the indices as stored: bit-packed at {@link #getBits()} bits.
     *
     * @return the packed indices, the array itself (do not change it)
     */
    byte[] packedIndices() {
        return packedIndices;
    }

    /**
     * Returns the width of a stored group id.
     *
     * @return the bits per group id
     */
    public int groupIdBits() {
        return groupIdBits(groups);
    }

    /**
     * Returns the number of bits this weight occupies when stored.
     *
     * @return index, group id, codebook and scale bits
     */
    public long storedBits() {
        return storedBits(shape, bits, vectorLength, mode, groups);
    }

    /**
     * Decodes the dense weight in Java.
     *
     * @return the weight values, row-major
     */
    public float[] decode() {
        int rows = rows();
        int cols = cols();
        int d = vectorLength;
        int k = codewords();
        int[] indices = getIndices();
        float[] out = new float[rows * cols];
        for (int o = 0; o < rows; o++) {
            int g = groupOf[o];
            float scale = mode == CodebookMode.SCALED ? scales[g] : 1f;
            int book = mode == CodebookMode.SCALED ? 0 : g * k;
            for (int n = 0; n < cols; n++) {
                int p = o * cols + n;
                out[p] = scale * codebooks[(book + indices[p / d]) * d + n % d];
            }
        }
        return out;
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return "CompressedWeight{shape="
                + shape
                + ", bits="
                + bits
                + (vectorLength == 1 ? "" : ", vectorLength=" + vectorLength)
                + ", mode="
                + mode
                + ", groups="
                + groups
                + ", codebook="
                + Arrays.toString(Arrays.copyOf(codebooks, Math.min(8, codebooks.length)))
                + "}";
    }

    /**
     * Checks the parts of a compressed weight other than its indices (which a reader of {@code
     * bits}-bit packed indices gets in range by construction): the shape, width, groups, group ids,
     * codebooks and scales, as the constructor does.
     *
     * @param shape the shape of the dense weight
     * @param bits the index width
     * @param vectorLength the weights per codeword
     * @param mode the mode
     * @param groups the number of groups
     * @param groupOf the group of each neuron
     * @param codebooks the codebooks
     * @param scales the scales, or {@code null}
     * @throws IllegalArgumentException if a part is invalid
     */
    static void checkParts(
            Shape shape,
            int bits,
            int vectorLength,
            CodebookMode mode,
            int groups,
            int[] groupOf,
            float[] codebooks,
            float[] scales) {
        checkBits(bits);
        if (shape.dimension() < 2 || shape.get(0) < 1 || shape.size() < 1) {
            throw new IllegalArgumentException("weight shape must be at least 2-D: " + shape);
        }
        checkVectorLength(shape, vectorLength);
        int rows = Math.toIntExact(shape.get(0));
        if (groups < 1 || groups > rows) {
            throw new IllegalArgumentException(
                    "groups must be in [1, " + rows + "] for " + shape + ", got " + groups);
        }
        if (groupOf.length != rows) {
            throw new IllegalArgumentException("expected " + rows + " group ids, got " + groupOf.length);
        }
        for (int g : groupOf) {
            if (g < 0 || g >= groups) {
                throw new IllegalArgumentException("group id " + g + " outside [0, " + groups + ")");
            }
        }
        int values = (1 << bits) * vectorLength;
        if (codebooks.length != codebookCount(mode, groups) * values) {
            throw new IllegalArgumentException(
                    "expected " + codebookCount(mode, groups) * values + " codebook values, got " + codebooks.length);
        }
        checkFinite("codebook", codebooks);
        if (mode == CodebookMode.SCALED) {
            if (scales == null || scales.length != groups) {
                throw new IllegalArgumentException("SCALED mode needs " + groups + " scales");
            }
            checkFinite("scales", scales);
        } else if (scales != null) {
            throw new IllegalArgumentException("MULTI mode has no scales");
        }
    }

    private static void checkFinite(String what, float[] values) {
        for (float v : values) {
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException(what + " holds a non-finite value: " + v);
            }
        }
    }
}
