package ai.djl.jlcm.learn;

/**
 * Settings of end-to-end fine-tuning after the layer-wise pass: every codebook and scale of the
 * compressed model (and, optionally, every float parameter left uncompressed: norms, biases,
 * position tables, but not the dense weights of Linear or convolution layers left float) learned
 * jointly with Adam so that the model's outputs on the calibration inputs match the float model's.
 * The mappings (indices) stay fixed; a run that ends worse on the calibration inputs than it began
 * keeps its start ({@link FineTuneReport#reverted}). Immutable.
 *
 * <pre>
 * Jlcm.builder().optBits(2).optFineTune(FineTuning.builder().setSteps(100).build())
 * </pre>
 */
public final class FineTuning {

    /** How the compressed model's outputs are compared with the float model's. */
    public enum Loss {
        /**
         * KL(float ‖ compressed) of the softmax over the last axis of the first output, averaged over
         * the other positions: for logits (classifiers, language models).
         */
        KL,
        /** The mean squared difference of the first outputs: for any output. */
        MSE
    }

    /** The default Adam learning rate. */
    public static final float DEFAULT_LEARNING_RATE = 1e-4f;

    private final int steps;
    private final float learningRate;
    private final Loss loss;
    private final boolean floatParameters;
    private final int microBatch;

    private FineTuning(Builder b) {
        microBatch = b.microBatch;
        steps = b.steps;
        learningRate = b.learningRate;
        loss = b.loss;
        floatParameters = b.floatParameters;
    }

    /**
     * Returns a builder.
     *
     * @return a builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Returns the number of optimizer steps, one calibration batch each, cycling over the batches.
     *
     * @return the steps
     */
    public int getSteps() {
        return steps;
    }

    /**
     * Returns Adam's learning rate (the largest change of a value in one step).
     *
     * @return the rate
     */
    public float getLearningRate() {
        return learningRate;
    }

    /**
     * Returns the loss.
     *
     * @return the loss
     */
    public Loss getLoss() {
        return loss;
    }

    /**
     * Returns whether the float parameters left uncompressed are learned too.
     *
     * @return whether they are
     */
    public boolean learnsFloatParameters() {
        return floatParameters;
    }

    /**
     * Returns the most samples a forward pass holds (a batch is split into micro-batches along axis
     * 0 whose gradients add up to the batch's), or 0 for whole batches.
     *
     * @return the micro-batch size, or 0
     */
    public int getMicroBatch() {
        return microBatch;
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return "steps=" + steps + " lr=" + learningRate + " loss=" + loss + " floatParameters=" + floatParameters
                + " microBatch=" + (microBatch == 0 ? "whole" : microBatch);
    }

    /** Builds {@link FineTuning} settings. */
    public static final class Builder {

        private int steps = -1;
        private float learningRate = DEFAULT_LEARNING_RATE;
        private Loss loss = Loss.KL;
        private boolean floatParameters = true;
        private int microBatch;

        Builder() {}

        /**
         * Sets the number of optimizer steps (required).
         *
         * @param steps the steps, at least 1
         * @return this builder
         */
        public Builder setSteps(int steps) {
            if (steps < 1) {
                throw new IllegalArgumentException("fine-tuning steps must be positive, got " + steps);
            }
            this.steps = steps;
            return this;
        }

        /**
         * Sets Adam's learning rate (default {@value #DEFAULT_LEARNING_RATE}).
         *
         * @param learningRate the rate, positive and finite
         * @return this builder
         */
        public Builder optLearningRate(float learningRate) {
            if (!(learningRate > 0) || Float.isInfinite(learningRate)) {
                throw new IllegalArgumentException("fine-tuning learning rate must be positive, got " + learningRate);
            }
            this.learningRate = learningRate;
            return this;
        }

        /**
         * Sets the loss (default {@link Loss#KL}).
         *
         * @param loss the loss
         * @return this builder
         */
        public Builder optLoss(Loss loss) {
            this.loss = java.util.Objects.requireNonNull(loss, "loss");
            return this;
        }

        /**
         * Sets whether the float parameters left uncompressed (norms, biases, tables no method
         * compresses) are learned beside the codebooks and scales (default true). The dense weights of
         * Linear and convolution layers a plan left float are never learned: Adam at the codebooks'
         * rate would move every one of them.
         *
         * @param learn whether to learn them
         * @return this builder
         */
        public Builder optFloatParameters(boolean learn) {
            this.floatParameters = learn;
            return this;
        }

        /**
         * Splits each calibration batch into micro-batches of at most this many samples, along axis 0
         * of every input and output (default 0: whole batches). The step is the same (the gradients
         * of the micro-batches add up to the batch's); only the activations of one micro-batch are
         * held for the backward pass, which bounds the memory of a training pass through a large
         * model, at the cost of decoding the weights once per micro-batch.
         *
         * @param samples the micro-batch size, positive, or 0 for whole batches
         * @return this builder
         */
        public Builder optMicroBatch(int samples) {
            if (samples < 0) {
                throw new IllegalArgumentException("micro-batch size must not be negative, got " + samples);
            }
            this.microBatch = samples;
            return this;
        }

        /**
         * Builds the settings.
         *
         * @return the settings
         * @throws IllegalStateException if the steps were not set
         */
        public FineTuning build() {
            if (steps < 1) {
                throw new IllegalStateException("FineTuning needs setSteps");
            }
            return new FineTuning(this);
        }
    }
}
