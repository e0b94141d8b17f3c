package ai.djl.jlcm.learn;

import ai.djl.jlcm.nn.Scalars;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The learning side state of one layer's {@link CodebookWeight}: the weight's own codebook and scale
 * parameters are the values learned, and this state adds one latent per weight in codebook units and
 * the Adam optimizers. While a unit learns, the state drives the weight's block ({@link
 * CodebookWeight#learnWith}). The mapping of a weight is the codeword
 * nearest to its latent; with FROZEN and NEIGHBOURS mappings the mapping itself is held instead, and
 * NEIGHBOURS' latents stay zero: they only collect the loss's gradient at each weight. Mappings are
 * held as UINT8 arrays (at most 256 codewords) and widened to INT64, which gathers need, a chunk of
 * rows at a time.
 *
 * <p>Vector codebooks (a codeword per {@code d} consecutive weights) learn with FROZEN mappings only:
 * their codebooks and scales learn, the mapping of each vector stays the initial one.
 */
final class LayerState {

    /** The latents updated at once (a chunk of whole rows), by default. */
    static final long UPDATE_CHUNK = 1 << 19;

    final CompressedWeight init;
    final Shape shape;
    /** The weight whose codebook and scales are learned (its indices stay the initial ones). */
    private final CodebookWeight codebookWeight;
    private final LayerSettings config;
    private final NDManager manager;
    private final int codewords;
    private final int vectorLength;
    /** {@code [1, 1, d]}: the offsets of a codeword's values, for vector codebooks; else null. */
    private final NDArray vectorOffsets;
    private final NDArray codebook;
    private final NDArray scales;
    /** The latents as row blocks of {@link #chunkRows} rows, each its own leaf of the autograd graph. */
    private final List<NDArray> latents;
    private final long chunkRows;
    private final NDArray rowBook;
    private final NDArray rowGroup;
    private final NDArray initIndex;
    /** The mapping itself (FROZEN: the initial one; NEIGHBOURS: the current one), or null when latents hold it. */
    private final NDArray heldMapping;
    /** NEIGHBOURS: the loss's curvature along each weight, broadcastable to {@code [rows, cols]}; else null. */
    private final NDArray curvature;
    /** NEIGHBOURS: the coupling of a row's weights ({@link ReconstructionLoss#coupling}), or null. */
    private final NDArray coupling;
    private final NDArray positions;
    private final Adam codebookAdam;
    private final Adam scaleAdam;
    private final Adam latentAdam;
    /** The state {@link #keep kept}: its mapping (an engine array outside any scope), codebooks and scales. */
    private NDArray keptMapping;
    private float[] keptCodebook;
    private float[] keptScales;

    /**
     * Creates the state of a layer from its initialization.
     *
     * @param m the manager of the state's arrays
     * @param init the k-means initialization
     * @param weight the dense weight, row-major; latents start there
     * @param config the layer's settings
     */
    LayerState(NDManager m, CompressedWeight init, float[] weight, LayerSettings config) {
        this(m, init, weight, config, UPDATE_CHUNK, null, null);
    }

    /**
     * Creates the state of a layer whose latents are held (and updated) in row blocks of about {@code
     * updateChunk}: a loss computed a block at a time then gives each block's gradient without
     * building a layer-sized one per block.
     *
     * @param m the manager of the state's arrays
     * @param init the k-means initialization
     * @param weight the dense weight, row-major; latents start there
     * @param config the layer's settings
     * @param updateChunk how many latents are updated at once (whole rows)
     * @param curvature the loss's curvature along each weight ({@link ReconstructionLoss#curvature}),
     *     which NEIGHBOURS mappings need; null otherwise
     * @param coupling the coupling of a row's weights ({@link ReconstructionLoss#coupling}), with
     *     which NEIGHBOURS makes several moves per row and step; null for one
     * @throws IllegalArgumentException if the mapping is NEIGHBOURS and no curvature is given
     */
    LayerState(NDManager m, CompressedWeight init, float[] weight, LayerSettings config, long updateChunk, NDArray curvature, NDArray coupling) {
        manager = m;
        this.init = init;
        this.config = config;
        shape = init.getShape();
        int rows = init.rows();
        int cols = init.cols();
        codewords = init.codewords();
        vectorLength = init.getVectorLength();
        if (vectorLength > 1 && config.getMapping() != MappingUpdate.FROZEN) {
            throw new IllegalArgumentException("vector codebooks learn with FROZEN mappings only, not " + config.getMapping());
        }
        vectorOffsets = vectorLength == 1 ? null : m.arange(0, vectorLength, 1, DataType.INT64).reshape(1, 1, vectorLength);
        codebookWeight = CodebookWeight.of(init, m);
        codebook = codebookWeight.getCodebook().getArray();
        codebook.setRequiresGradient(true);
        rowGroup = m.create(Arrays.stream(init.getGroupOf()).asLongStream().toArray());
        rowBook = init.getMode() == CodebookMode.MULTI ? rowGroup : m.zeros(new Shape(rows), DataType.INT64);
        initIndex = bytes(m, init.getIndices(), new Shape(rows, init.indexCols()));
        boolean neighbours = config.getMapping() == MappingUpdate.NEIGHBOURS;
        if (neighbours && curvature == null) {
            throw new IllegalArgumentException(
                    "NEIGHBOURS mappings need a layer's own reconstruction loss (its curvature); use another mapping for reconstruction units");
        }
        this.curvature = neighbours ? curvature : null;
        this.coupling = neighbours ? coupling : null;
        heldMapping = neighbours ? initIndex.duplicate() : learnsMapping() ? null : initIndex;
        if (init.getMode() == CodebookMode.SCALED) {
            scales = codebookWeight.getScales().getArray();
            scales.setRequiresGradient(true);
        } else {
            scales = null;
        }
        NDArray w = neighbours ? m.zeros(new Shape(rows, cols)) : m.create(weight, new Shape(rows, cols));
        NDArray all = scales == null || neighbours ? w : w.div(scales.stopGradient().take(m, rowGroup).expandDims(1));
        chunkRows = Math.max(1, updateChunk / Math.max(1, cols));
        latents = new ArrayList<>();
        for (long r0 = 0; r0 < rows; r0 += chunkRows) {
            NDArray z = rows <= chunkRows ? all : all.get(r0 + ":" + Math.min(rows, r0 + chunkRows)).duplicate();
            z.setRequiresGradient(true);
            latents.add(z);
        }
        positions = m.arange(0, codewords, 1, DataType.INT64).expandDims(0).repeat(0, init.codebookCount());
        codebookAdam = new Adam(codebook, config.getCodebookRate() * rms(codebook));
        scaleAdam = scales == null ? null : new Adam(scales, config.getScaleRate() * scales.mean().getFloat());
        latentAdam = neighbours ? null : new Adam(all, config.getLatentRate() * meanSpacing());
        if (latents.size() > 1) {
            all.close();
            w.close();
        }
    }

    /**
     * Returns the weight whose codebook and scales this state learns.
     *
     * @return the weight
     */
    CodebookWeight weight() {
        return codebookWeight;
    }

    /**
     * Returns the rows of a block of latents: {@link #trainingRows} takes these ranges.
     *
     * @return the rows per block (the last may have fewer)
     */
    long chunkRows() {
        return chunkRows;
    }

    private String chunkRange(int c) {
        return c * chunkRows + ":" + Math.min(shape.get(0), (c + 1) * chunkRows);
    }

    /** All latents as one {@code [rows, cols]} array, differentiable into the blocks. */
    private NDArray latent() {
        return latents.size() == 1 ? latents.get(0) : NDArrays.concat(new NDList(latents));
    }

    private boolean learnsMapping() {
        return config.getMapping() != MappingUpdate.FROZEN;
    }

    /**
     * Returns the current mapping: nearest codewords of the latents, or the initial mapping when
     * mappings are frozen.
     *
     * @return UINT8 {@code [rows, cols]}
     */
    NDArray mapping() {
        if (heldMapping != null) {
            return heldMapping;
        }
        NDArray rows = codebookRows();
        if (latents.size() == 1) {
            return nearest(latents.get(0), rows);
        }
        NDList parts = new NDList();
        for (int c = 0; c < latents.size(); c++) {
            parts.add(nearest(latents.get(c), rows.get(chunkRange(c))));
        }
        NDArray all = NDArrays.concat(parts);
        parts.close();
        return all;
    }

    /**
     * Returns the initial (k-means) mapping.
     *
     * @return UINT8 {@code [rows, cols]}
     */
    NDArray initialMapping() {
        return initIndex;
    }

    /**
     * Returns the weight for a training forward pass, differentiable w.r.t. codebooks, scales and
     * (except FROZEN) latents.
     *
     * @param index the mapping of this step
     * @return the weight, in the layer's shape
     */
    NDArray trainingWeight(NDArray index) {
        NDArray w;
        NDArray latent = config.getMapping() == MappingUpdate.FROZEN ? null : latent();
        switch (config.getMapping()) {
            case FROZEN:
                w = codebook.take(manager, flatIndex(index));
                break;
            case SOFT:
                NDArray rows = codebook.get(rowBook).expandDims(1);
                float tau = softTemperature();
                NDArray logits = Scalars.div(latent.expandDims(2).sub(rows).square(), -tau * tau);
                w = logits.softmax(2).mul(rows).sum(new int[] {2});
                break;
            default:
                w = codebook.take(manager, flatIndex(index)).add(latent.sub(latent.stopGradient()));
                break;
        }
        return (scales == null ? w : w.mul(rowScale())).reshape(shape);
    }

    /**
     * Returns rows {@code [from, to)} of {@link #trainingWeight(NDArray)} as a {@code [r, cols]}
     * matrix, differentiable in the same way, for losses computed a block of latents at a time.
     *
     * @param index the mapping of this step
     * @param from the first row, a multiple of {@link #chunkRows()}
     * @param to the end row (exclusive): the block's end
     * @return the rows of the weight
     */
    NDArray trainingRows(NDArray index, long from, long to) {
        int c = Math.toIntExact(from / chunkRows);
        String range = from + ":" + to;
        if (from % chunkRows != 0 || !range.equals(chunkRange(c))) {
            throw new IllegalArgumentException("rows " + range + " are not a block of " + chunkRows + " latent rows");
        }
        NDArray book = rowBook.get(range);
        NDArray z = latents.get(c);
        NDArray w;
        switch (config.getMapping()) {
            case FROZEN:
                w = codebook.take(manager, flatIndex(book, index.get(range)));
                break;
            case SOFT:
                NDArray rows = codebook.get(book).expandDims(1);
                float tau = softTemperature();
                w = Scalars.div(z.expandDims(2).sub(rows).square(), -tau * tau).softmax(2).mul(rows).sum(new int[] {2});
                break;
            default:
                w = codebook.take(manager, flatIndex(book, index.get(range))).add(z.sub(z.stopGradient()));
                break;
        }
        return scales == null ? w : w.mul(scales.take(manager, rowGroup.get(range)).expandDims(1));
    }

    /**
     * Returns the weight decoded from a hard mapping, without gradient.
     *
     * @param index the mapping
     * @return the weight, in the layer's shape
     */
    NDArray hardWeight(NDArray index) {
        NDArray w = codebook.stopGradient().take(manager, flatIndex(index));
        return (scales == null ? w : w.mul(rowScale().stopGradient())).reshape(shape);
    }

    /**
     * Returns rows {@code [from, to)} of {@link #hardWeight(NDArray)} as a {@code [r, cols]} matrix.
     *
     * @param index the mapping
     * @param from the first row
     * @param to the end row (exclusive)
     * @return the rows of the weight
     */
    NDArray hardRows(NDArray index, long from, long to) {
        String range = from + ":" + to;
        NDArray w = codebook.stopGradient().take(manager, flatIndex(rowBook.get(range), index.get(range)));
        return scales == null ? w : w.mul(scales.stopGradient().take(manager, rowGroup.get(range)).expandDims(1));
    }

    /**
     * Applies one optimizer step from the accumulated gradients, then clears them.
     *
     * @param index the mapping the gradients were computed with
     */
    void update(NDArray index) {
        NDArray rowsBefore = codebookRows();
        codebook.subi(codebookAdam.step(codebook.getGradient()));
        if (scaleAdam != null) {
            scales.subi(scaleAdam.step(scales.getGradient()));
        }
        if (curvature != null) {
            moveToNeighbours(index, rowsBefore);
        } else if (learnsMapping()) {
            latentAdam.begin();
            for (int c = 0; c < latents.size(); c++) {
                NDIndex range = new NDIndex(chunkRange(c));
                NDArray z = latents.get(c);
                // each block's temporaries (a dozen block-sized arrays) are freed when it is done
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    NDArray chunkIndex = index.get(range).toType(DataType.INT64, false);
                    z.set(new NDIndex(":"), updatedLatents(range, z, z.getGradient(), rowsBefore.get(range), chunkIndex));
                }
            }
        }
        sortCodebooks();
        List<NDArray> trained = new ArrayList<>(latents);
        trained.add(codebook);
        if (scales != null) {
            trained.add(scales);
        }
        for (NDArray a : trained) {
            NDArray g = a.getGradient();
            g.subi(g);
        }
    }

    /**
     * NEIGHBOURS' step: each block's mapping moves by {@link NeighbourStep} on the gradient its
     * latents collected, in codebook units (in SCALED mode the gradient carries the row's scale, and
     * the curvature its square).
     */
    private void moveToNeighbours(NDArray index, NDArray rowsBefore) {
        for (int c = 0; c < latents.size(); c++) {
            NDIndex range = new NDIndex(chunkRange(c));
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray k = curvature.getShape().get(0) == 1 ? curvature : curvature.get(range);
                NDArray rowFactor = null;
                if (scales != null) {
                    rowFactor = scales.stopGradient().take(manager, rowGroup.get(range)).square().expandDims(1);
                    k = k.mul(rowFactor);
                }
                NDArray chunkIndex = index.get(range).toType(DataType.INT64, false);
                NDArray moved = NeighbourStep.step(latents.get(c).getGradient(), rowsBefore.get(range), chunkIndex, k, coupling, rowFactor, config.getNeighbourMoves());
                heldMapping.set(range, moved.toType(DataType.UINT8, false));
            }
        }
    }

    /**
     * Returns a chunk of rows' latents after one step: Adam on the (proximal) gradient, then, for
     * PROXIMAL, the clamp that keeps each mapping within one codeword.
     */
    private NDArray updatedLatents(NDIndex range, NDArray current, NDArray gradient, NDArray rows, NDArray index) {
        boolean proximal = config.getMapping() == MappingUpdate.PROXIMAL;
        NDArray g = proximal && !config.isPhiOnStep() ? ProximalStep.gradient(gradient, rows, index, config.getEdgePhi()) : gradient;
        NDArray delta = latentAdam.stepRows(range, g);
        if (!proximal) {
            return current.sub(delta);
        }
        if (config.isPhiOnStep()) {
            delta = delta.mul(ProximalStep.phi(rows, index, delta.neg(), config.getEdgePhi()));
        }
        return ProximalStep.clampToNeighbours(rows, index, current.sub(delta));
    }

    /**
     * Keeps each scalar codebook sorted ascending (the proximal step's neighbours are adjacent
     * indices): codewords that crossed are swapped back into order together with their Adam moments
     * and, for held mappings, the indices that point at them. Vector codewords have no order.
     */
    private void sortCodebooks() {
        if (vectorLength > 1) {
            return;
        }
        NDArray order = codebook.argSort(1);
        if (order.eq(positions).all().getBoolean()) {
            return;
        }
        codebook.subi(codebook.sub(codebook.gather(order, 1)));
        codebookAdam.permute(order);
        if (heldMapping != null) {
            NDArray rank = order.argSort(1);
            // UINT8 arithmetic wraps modulo 256, so subtracting the difference still lands on the new value
            NDArray remapped = rank.get(rowBook).gather(heldMapping.toType(DataType.INT64, false), 1).toType(DataType.UINT8, false);
            heldMapping.subi(heldMapping.sub(remapped));
        }
    }

    /**
     * Keeps the state with a given mapping as the best so far, replacing the one kept before: the
     * codebooks and scales are copied into Java memory, the mapping into an engine array of the
     * state's manager that outlives the caller's {@link NDScope} (a learning run keeps a dozen
     * states of a large layer: no Java garbage of the layer's size for each).
     *
     * @param index the mapping
     */
    void keep(NDArray index) {
        NDArray mapping = index.duplicate();
        NDScope.unregister(mapping);
        if (keptMapping != null) {
            keptMapping.close();
        }
        keptMapping = mapping;
        keptCodebook = codebook.toFloatArray();
        keptScales = scales == null ? null : scales.toFloatArray();
    }

    /**
     * Returns the state last {@link #keep kept} as a compressed weight, and frees its mapping. Scalar
     * codebooks are ascending, as every update leaves them.
     *
     * @return the compressed weight
     * @throws IllegalStateException if no state is kept
     */
    CompressedWeight kept() {
        if (keptMapping == null) {
            throw new IllegalStateException("no state kept");
        }
        byte[] index = keptMapping.toByteArray();
        keptMapping.close();
        keptMapping = null;
        int[] idx = new int[index.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = index[i] & 0xFF;
        }
        return new CompressedWeight(
                init.getShape(),
                init.getBits(),
                vectorLength,
                init.getMode(),
                init.getGroups(),
                init.getGroupOf(),
                keptCodebook,
                keptScales,
                idx);
    }

    private NDArray flatIndex(NDArray index) {
        return flatIndex(rowBook, index);
    }

    /**
     * The position in the flat codebooks of each weight's value, {@code [r, cols]}: for vector
     * codebooks each index expands to its codeword's {@code d} consecutive values.
     */
    private NDArray flatIndex(NDArray books, NDArray index) {
        NDArray flat = books.expandDims(1).mul((long) codewords).add(index.toType(DataType.INT64, false));
        if (vectorOffsets == null) {
            return flat;
        }
        long r = flat.getShape().get(0);
        return flat.mul((long) vectorLength).expandDims(2).add(vectorOffsets).reshape(r, -1);
    }

    /** A UINT8 array of indices below 256. */
    private static NDArray bytes(NDManager m, int[] indices, Shape shape) {
        byte[] b = new byte[indices.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) indices[i];
        }
        return m.create(ByteBuffer.wrap(b), shape, DataType.UINT8);
    }

    /** SOFT's temperature; a constant codebook (an all-zero layer) has no spacing, any τ gives its value. */
    private float softTemperature() {
        float spacing = meanSpacing();
        return config.getSoftTemperature() * (spacing > 0 ? spacing : 1f);
    }

    private NDArray codebookRows() {
        return codebook.stopGradient().get(rowBook);
    }

    private NDArray rowScale() {
        return scales.take(manager, rowGroup).expandDims(1);
    }

    private float meanSpacing() {
        NDArray c = codebook.stopGradient();
        return c.get(":, -1").sub(c.get(":, 0")).div((float) (codewords - 1)).mean().getFloat();
    }

    private static float rms(NDArray a) {
        return (float) Math.sqrt(a.square().mean().getFloat());
    }

    /**
     * Returns the index of the nearest codeword of each latent in its neuron's codebook. Codebooks are
     * ascending, so the index is the number of cell boundaries (midpoints of neighbouring codewords)
     * below the latent; a latent on a boundary takes the lower codeword, as the nearest one does.
     *
     * @param latent latents {@code [O, N]}
     * @param rows the codebook of each neuron, ascending {@code [O, K]}, {@code K <= 256}
     * @return UINT8 {@code [O, N]}
     */
    static NDArray nearest(NDArray latent, NDArray rows) {
        long k = rows.getShape().get(1);
        NDArray z = latent.stopGradient();
        NDArray count = z.getManager().zeros(z.getShape(), DataType.UINT8);
        // one [O, N] comparison per boundary: K - 1 cheap passes, no [O, N, K] distance tensor
        for (long b = 0; b + 1 < k; b++) {
            try (NDArray low = rows.get(":, " + b + ":" + (b + 1));
                    NDArray high = rows.get(":, " + (b + 1) + ":" + (b + 2));
                    NDArray bound = low.add(high).div(2f);
                    NDArray above = z.gt(bound);
                    NDArray one = above.toType(DataType.UINT8, false)) {
                count.addi(one);
            }
        }
        z.close();
        return count;
    }
}
