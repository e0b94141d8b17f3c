package ai.djl.jlcm.nn;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import ai.djl.util.Preconditions;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.util.Collections;
import java.util.Objects;

/**
 * A {@link Linear} block whose weight is stored as grouped-codebook indices.
 *
 * <p>It extends {@code Linear} so that it can stand wherever a {@code Linear} field is declared (for
 * example inside DJL's attention blocks). The forward pass decodes the weight and applies {@link
 * Linear#linear(NDArray, NDArray, NDArray)}; gradients reach the codebook and the scales.
 *
 * <p>The forward pass decodes the weight a chunk of rows at a time and applies the linear op to each
 * chunk, so only one chunk of dense weight exists at a time. What stays in memory between passes is
 * set by {@link Builder#optMemoryMode(MemoryMode)}.
 */
public class CodebookLinear extends Linear implements CodebookBlock {

    /** Version 2 added the vector length to the weight's metadata; version 1 files still load. */
    private static final byte VERSION = 2;

    private final String layerName;
    private final long units;
    private final CodebookWeight codebookWeight;
    private final Parameter bias;

    @SuppressWarnings("this-escape")
    protected CodebookLinear(Builder builder) {
        super(Linear.builder().setUnits(builder.weight.getShape().get(0)).optBias(builder.bias));
        version = VERSION;
        layerName = builder.layerName;
        units = builder.weight.getShape().get(0);
        codebookWeight = builder.weight;
        codebookWeight.setMemoryMode(builder.memoryMode);
        parameters.clear();
        for (Parameter p : codebookWeight.parameters()) {
            addParameter(p);
        }
        bias =
                builder.bias
                        ? addParameter(
                                Parameter.builder()
                                        .setName("bias")
                                        .setType(Parameter.Type.BIAS)
                                        .build())
                        : null;
        if (builder.biasArray != null) {
            bias.setArray(builder.biasArray);
        }
        if (builder.inputShape != null) {
            inputShapes = new Shape[] {builder.inputShape};
        }
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray input = inputs.singletonOrThrow();
        NDArray biasArr = parameterStore.getValue(bias, input.getDevice(), training);
        // y[..., r0:r1] = x · W[r0:r1]ᵀ + b[r0:r1], one chunk of decoded rows at a time
        NDArray out =
                codebookWeight.applyInChunks(
                        input,
                        training,
                        1,
                        (tmp, w, r0, r1) ->
                                linear(input, w, CodebookWeight.argumentRows(tmp, biasArr, r0, r1))
                                        .singletonOrThrow(),
                        input.getShape().dimension() - 1);
        return new NDList(out);
    }

    /** {@inheritDoc} */
    @Override
    public void prepare(Shape[] inputShapes) {
        Preconditions.checkArgument(
                inputShapes[0].get(inputShapes[0].dimension() - 1) == codebookWeight.getShape().get(1),
                "Layer " + layerName + " expects " + codebookWeight.getShape().get(1) + " inputs");
        if (bias != null) {
            bias.setShape(new Shape(units));
        }
    }

    /** {@inheritDoc} */
    @Override
    public PairList<String, Shape> describeInput() {
        Shape in = inputShapes == null ? new Shape(-1, codebookWeight.getShape().get(1)) : inputShapes[0];
        return new PairList<>(Collections.singletonList("linearInput"), Collections.singletonList(in));
    }

    /**
     * {@inheritDoc} The records are DJL's; only how the arrays are copied out differs ({@link
     * ParameterRecords#saveAll}).
     */
    @Override
    public void saveParameters(DataOutputStream os) throws IOException {
        os.write(version);
        saveMetadata(os);
        ParameterRecords.saveAll(getDirectParameters().values(), os);
    }

    /** {@inheritDoc} */
    @Override
    protected void saveMetadata(DataOutputStream os) throws IOException {
        saveInputShapes(os);
        codebookWeight.saveMetadata(os);
    }

    /** {@inheritDoc} */
    @Override
    public void loadMetadata(byte loadVersion, DataInputStream is)
            throws IOException, MalformedModelException {
        if (loadVersion < 1 || loadVersion > VERSION) {
            throw new MalformedModelException(
                    "Layer " + layerName + ": unsupported CodebookLinear version " + loadVersion);
        }
        Shape[] shapes = ParameterRecords.readInputShapes(is, layerName);
        if (inputShapes == null) {
            inputShapes = shapes;
        }
        codebookWeight.checkMetadata(is, loadVersion, layerName);
    }

    /** {@inheritDoc} */
    @Override
    public void loadParameters(NDManager manager, DataInputStream is)
            throws IOException, MalformedModelException {
        try {
            loadMetadata(is.readByte(), is);
            codebookWeight.loadParameters(manager, is, layerName);
            if (bias != null) {
                ParameterRecords.load(bias, DataType.FLOAT32, new Shape(units), manager, is, layerName);
            }
        } catch (EOFException e) {
            throw new MalformedModelException("Layer " + layerName + ": parameter file is truncated", e);
        }
    }

    /** {@inheritDoc} */
    @Override
    public CodebookWeight getCodebookWeight() {
        return codebookWeight;
    }

    /** {@inheritDoc} */
    @Override
    public String getLayerName() {
        return layerName;
    }

    /** {@inheritDoc} */
    @Override
    public boolean hasBias() {
        return bias != null;
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return "CodebookLinear(" + codebookWeight.describe() + ")";
    }

    /**
     * Creates a builder.
     *
     * @return a new builder
     */
    public static Builder codebookBuilder() {
        return new Builder();
    }

    /** Builds a {@link CodebookLinear}: from a compressed weight, or empty to load parameters into. */
    public static final class Builder {

        private CodebookWeight weight;
        private boolean bias = true;
        private NDArray biasArray;
        private Shape inputShape;
        private String layerName = "linear";
        private MemoryMode memoryMode = MemoryMode.PACKED;

        Builder() {}

        /**
         * Sets the weight parameters (filled, or empty for loading).
         *
         * @param weight the codebook weight; its shape is {@code [units, inputFeatures]}
         * @return this builder
         */
        public Builder setWeight(CodebookWeight weight) {
            this.weight = weight;
            return this;
        }

        /**
         * Sets whether the block has a bias (default true).
         *
         * @param bias whether a bias is present
         * @return this builder
         */
        public Builder optBias(boolean bias) {
            this.bias = bias;
            return this;
        }

        /**
         * Sets the bias values of a filled block.
         *
         * @param biasArray the bias, {@code [units]}
         * @return this builder
         */
        public Builder optBiasArray(NDArray biasArray) {
            this.biasArray = biasArray;
            this.bias = true;
            return this;
        }

        /**
         * Sets the input shape of a filled block, copied from the block it replaces.
         *
         * @param inputShape the input shape
         * @return this builder
         */
        public Builder optInputShape(Shape inputShape) {
            this.inputShape = inputShape;
            return this;
        }

        /**
         * Sets the layer name used in messages (default "linear").
         *
         * @param layerName the path of the layer in its block tree
         * @return this builder
         */
        public Builder optLayerName(String layerName) {
            this.layerName = layerName;
            return this;
        }

        /**
         * Sets what the block keeps in memory between passes (default {@link MemoryMode#PACKED}).
         *
         * @param memoryMode the memory mode
         * @return this builder
         */
        public Builder optMemoryMode(MemoryMode memoryMode) {
            this.memoryMode = Objects.requireNonNull(memoryMode, "memoryMode");
            return this;
        }

        /**
         * Builds the block.
         *
         * @return the block
         */
        public CodebookLinear build() {
            if (weight == null) {
                throw new IllegalArgumentException("Layer " + layerName + ": no weight set");
            }
            if (weight.getShape().dimension() != 2) {
                throw new IllegalArgumentException(
                        "Layer " + layerName + ": a linear weight is 2-D, got " + weight.getShape());
            }
            if (biasArray != null && !bias) {
                throw new IllegalArgumentException(
                        "Layer " + layerName + ": optBiasArray gives a bias, optBias(false) removes it; use one");
            }
            if (biasArray != null && !biasArray.getShape().equals(new Shape(weight.getShape().get(0)))) {
                throw new IllegalArgumentException(
                        "Layer " + layerName + ": the bias must be (" + weight.getShape().get(0) + "), got " + biasArray.getShape());
            }
            return new CodebookLinear(this);
        }
    }
}
