package ai.djl.jlcm.nn;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.LayoutType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv1d;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.convolutional.Conv3d;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.util.Objects;

/**
 * A 1-D, 2-D or 3-D convolution ({@link Conv1d}, {@link Conv2d}, {@link Conv3d}) whose filters are
 * stored as grouped-codebook indices. Stride, padding, dilation, channel groups (depthwise included)
 * and bias are kept from the convolution it replaces.
 *
 * <p>The forward pass decodes the filters a chunk of output channels (whole channel groups) at a
 * time and convolves with each chunk. What stays in memory between passes is set by {@link
 * Builder#optMemoryMode(MemoryMode)}.
 */
public class CodebookConvolution extends Convolution implements CodebookBlock {

    /** Version 2 added the vector length to the weight's metadata; version 1 files still load. */
    private static final byte VERSION = 2;

    private static final LayoutType[][] LAYOUTS = {
        {LayoutType.BATCH, LayoutType.CHANNEL, LayoutType.WIDTH},
        {LayoutType.BATCH, LayoutType.CHANNEL, LayoutType.HEIGHT, LayoutType.WIDTH},
        {
            LayoutType.BATCH,
            LayoutType.CHANNEL,
            LayoutType.DEPTH,
            LayoutType.HEIGHT,
            LayoutType.WIDTH
        }
    };
    private static final String[] STRING_LAYOUTS = {"NCW", "NCHW", "NCDHW"};

    private final String layerName;
    private final int spatialDims;
    private final CodebookWeight codebookWeight;

    @SuppressWarnings("this-escape")
    protected CodebookConvolution(Builder builder) {
        super(builder);
        version = VERSION;
        layerName = builder.layerName;
        spatialDims = kernelShape.dimension();
        codebookWeight = builder.weight;
        codebookWeight.setMemoryMode(builder.memoryMode);
        parameters.clear();
        for (Parameter p : codebookWeight.parameters()) {
            addParameter(p);
        }
        bias =
                includeBias
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

    /**
     * Returns the settings of a convolution as a builder, for replacing it.
     *
     * @param conv the convolution
     * @return a builder with kernel, stride, padding, dilation, filters, groups and bias set
     */
    public static Builder like(Convolution conv) {
        Builder b = new Builder();
        b.setKernelShape(conv.getKernelShape())
                .optStride(conv.getStride())
                .optPadding(conv.getPadding())
                .optDilation(conv.getDilation())
                .setFilters(conv.getFilters())
                .optGroups(conv.getGroups())
                .optBias(conv.isIncludeBias());
        return b;
    }

    /**
     * Creates a builder.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** {@inheritDoc} */
    @Override
    protected LayoutType[] getExpectedLayout() {
        return LAYOUTS[spatialDims - 1];
    }

    /** {@inheritDoc} */
    @Override
    protected String getStringLayout() {
        return STRING_LAYOUTS[spatialDims - 1];
    }

    /** {@inheritDoc} */
    @Override
    protected int numDimensions() {
        return spatialDims + 2;
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
        // chunks of whole channel groups: filters [r0, r1) read input channels of their groups only
        long filtersPerGroup = filters / groups;
        long channelsPerGroup = input.getShape().get(1) / groups;
        NDArray out =
                codebookWeight.applyInChunks(
                        input,
                        training,
                        filtersPerGroup,
                        (tmp, w, r0, r1) -> {
                            NDArray x = input;
                            int chunkGroups = (int) ((r1 - r0) / filtersPerGroup);
                            if (chunkGroups != groups) {
                                long c0 = r0 / filtersPerGroup * channelsPerGroup;
                                x = input.get(":, " + c0 + ":" + (c0 + chunkGroups * channelsPerGroup));
                                x.attach(tmp);
                            }
                            NDArray b = CodebookWeight.argumentRows(tmp, biasArr, r0, r1);
                            return x.getNDArrayInternal()
                                    .convolution(x, w, b, stride, padding, dilation, chunkGroups)
                                    .singletonOrThrow();
                        },
                        1);
        return new NDList(out);
    }

    /** {@inheritDoc} */
    @Override
    protected void prepare(Shape[] inputs) {
        long inputChannel = inputs[0].get(1);
        Shape expected = new Shape(filters, inputChannel / groups).addAll(kernelShape);
        if (!expected.equals(codebookWeight.getShape())) {
            throw new IllegalArgumentException(
                    "Layer "
                            + layerName
                            + ": input "
                            + inputs[0]
                            + " needs filters "
                            + expected
                            + ", block holds "
                            + codebookWeight.getShape());
        }
        if (bias != null) {
            bias.setShape(new Shape(filters));
        }
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
                    "Layer " + layerName + ": unsupported CodebookConvolution version " + loadVersion);
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
                ParameterRecords.load(bias, DataType.FLOAT32, new Shape(filters), manager, is, layerName);
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
        return "CodebookConvolution(" + codebookWeight.describe() + ", stride=" + stride + ")";
    }

    /** Builds a {@link CodebookConvolution}: from a compressed weight, or empty to load into. */
    public static final class Builder extends ConvolutionBuilder<Builder> {

        private CodebookWeight weight;
        private NDArray biasArray;
        private Shape inputShape;
        private String layerName = "convolution";
        private MemoryMode memoryMode = MemoryMode.PACKED;

        Builder() {}

        /**
         * Sets the filter parameters (filled, or empty for loading).
         *
         * @param weight the codebook weight, shaped {@code [filters, inChannels/groups, kernel…]}
         * @return this builder
         */
        public Builder setWeight(CodebookWeight weight) {
            this.weight = weight;
            return this;
        }

        /**
         * Sets the bias values of a filled block.
         *
         * @param biasArray the bias, {@code [filters]}
         * @return this builder
         */
        public Builder optBiasArray(NDArray biasArray) {
            this.biasArray = biasArray;
            return optBias(true);
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
         * Sets the layer name used in messages (default "convolution").
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

        /** {@inheritDoc} */
        @Override
        protected Builder self() {
            return this;
        }

        /**
         * Builds the block.
         *
         * @return the block
         */
        public CodebookConvolution build() {
            validate();
            int dims = kernelShape.dimension();
            if (dims < 1 || dims > 3) {
                throw new IllegalArgumentException(
                        "Layer " + layerName + ": only 1-D to 3-D convolutions, kernel " + kernelShape);
            }
            if (stride == null) {
                stride = new Shape(ones(dims));
            }
            if (padding == null) {
                padding = new Shape(new long[dims]);
            }
            if (dilation == null) {
                dilation = new Shape(ones(dims));
            }
            if (weight == null) {
                throw new IllegalArgumentException("Layer " + layerName + ": no weight set");
            }
            Shape ws = weight.getShape();
            if (ws.dimension() != dims + 2
                    || ws.get(0) != filters
                    || !ws.slice(2).equals(kernelShape)) {
                throw new IllegalArgumentException(
                        "Layer "
                                + layerName
                                + ": weight "
                                + ws
                                + " does not fit "
                                + filters
                                + " filters of kernel "
                                + kernelShape);
            }
            return new CodebookConvolution(this);
        }

        private static long[] ones(int n) {
            long[] a = new long[n];
            java.util.Arrays.fill(a, 1);
            return a;
        }
    }
}
