package ai.djl.jlcm.plan;

import ai.djl.jlcm.learn.MappingUpdate;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.StringJoiner;

/**
 * How one layer is compressed: the method, the stored form (bits, groups, mode) and the knobs of
 * calibrated learning. Immutable. A settings object may be partial (an override sets only some
 * values); {@link CompressionPlan#resolve} always returns complete settings, whose unset values are
 * the {@link #defaults() library defaults}.
 *
 * <p>Library defaults: method KMEANS (data-free; {@code Jlcm} uses JLCM for layers no rule gives a
 * method), {@value #DEFAULT_BITS} bits, 4 groups, MULTI (a plan resolves a JLCM layer at 1 bit whose
 * mode nothing sets to SCALED), scalar codebooks (vector length 1), PROXIMAL, 200 steps, learning rates 1e-3
 * (codebook), 1e-3 (scale), 0.02 (latent), edge φ 1, φ on the step, SOFT temperature 0.5, one
 * NEIGHBOURS move, dampening
 * 0.01, seed 0, no minimum weight count, not skipped.
 */
public final class LayerSettings {

    /** The library's one default index width. */
    public static final int DEFAULT_BITS = 4;

    /** The settings, in the order their canonical text lists them. */
    enum Key {
        METHOD("method"),
        BITS("bits"),
        VECTOR_LENGTH("vectorLength"),
        GROUPS("groups"),
        MODE("mode"),
        MAPPING("mapping"),
        STEPS("steps"),
        CODEBOOK_RATE("codebookRate"),
        SCALE_RATE("scaleRate"),
        LATENT_RATE("latentRate"),
        EDGE_PHI("edgePhi"),
        PHI_ON_STEP("phiOnStep"),
        SOFT_TEMPERATURE("softTemperature"),
        NEIGHBOUR_MOVES("neighbourMoves"),
        DAMPENING("dampening"),
        SEED("seed"),
        MIN_WEIGHTS("minWeights"),
        SKIP("skip");

        final String text;

        Key(String text) {
            this.text = text;
        }
    }

    private static final LayerSettings DEFAULTS =
            builder()
                    .optMethod(Method.KMEANS)
                    .optBits(DEFAULT_BITS)
                    .optVectorLength(1)
                    .optGroups(4)
                    .optMode(CodebookMode.MULTI)
                    .optMapping(MappingUpdate.PROXIMAL)
                    .optSteps(200)
                    .optLearningRates(1e-3f, 1e-3f, 0.02f)
                    .optEdgePhi(1f)
                    .optPhiOnStep(true)
                    .optSoftTemperature(0.5f)
                    .optNeighbourMoves(1)
                    .optDampening(0.01f)
                    .optSeed(0)
                    .optMinWeights(0)
                    .optSkip(false)
                    .build();

    private final Map<Key, Object> values;

    private LayerSettings(Map<Key, Object> values) {
        this.values = new EnumMap<>(Key.class);
        this.values.putAll(values);
    }

    /**
     * Returns the library defaults: every setting set.
     *
     * @return the defaults
     */
    public static LayerSettings defaults() {
        return DEFAULTS;
    }

    /**
     * Creates a builder of (possibly partial) settings.
     *
     * @return a builder with nothing set
     */
    public static Builder builder() {
        return new Builder(new EnumMap<>(Key.class));
    }

    /**
     * Returns a builder that starts from these settings.
     *
     * @return a builder
     */
    public Builder toBuilder() {
        return new Builder(new EnumMap<>(values));
    }

    /**
     * Returns these settings with every value {@code override} sets replaced by its.
     *
     * @param override the settings that win
     * @return the merged settings
     */
    public LayerSettings overriddenBy(LayerSettings override) {
        Map<Key, Object> merged = new EnumMap<>(Key.class);
        merged.putAll(values);
        merged.putAll(override.values);
        return new LayerSettings(merged);
    }

    /**
     * Returns whether every setting is set.
     *
     * @return whether these settings are complete
     */
    public boolean isComplete() {
        return values.size() == Key.values().length;
    }

    boolean has(Key key) {
        return values.containsKey(key);
    }

    /**
     * Returns the method, or {@code null} where unset.
     *
     * @return the method
     */
    public Method getMethod() {
        return (Method) values.get(Key.METHOD);
    }

    /**
     * Returns the bits per weight, 1 to 8: the index width of scalar codebooks; a vector codebook's
     * index, shared by {@link #getVectorLength()} weights, has {@link #getIndexBits()}.
     *
     * @return the bits
     */
    public int getBits() {
        return (Integer) get(Key.BITS);
    }

    /**
     * Returns the number of consecutive weights of a row that share one index (kmeans and jlcm; 1 for
     * scalar codebooks).
     *
     * @return the vector length
     */
    public int getVectorLength() {
        return (Integer) get(Key.VECTOR_LENGTH);
    }

    /**
     * Returns the width of a stored index: bits per weight times the vector length.
     *
     * @return the index bits
     */
    public int getIndexBits() {
        return getBits() * getVectorLength();
    }

    /**
     * Returns the neuron groups per layer (capped at a layer's neuron count); kmeans, jlcm and
     * gptq-codebook.
     *
     * @return the groups
     */
    public int getGroups() {
        return (Integer) get(Key.GROUPS);
    }

    /**
     * Returns the codebook mode; kmeans, jlcm and gptq-codebook.
     *
     * @return the mode
     */
    public CodebookMode getMode() {
        return (CodebookMode) get(Key.MODE);
    }

    /**
     * Returns how JLCM's mappings learn.
     *
     * @return the mapping update
     */
    public MappingUpdate getMapping() {
        return (MappingUpdate) get(Key.MAPPING);
    }

    /**
     * Returns JLCM's optimization steps (0: the k-means initialization only).
     *
     * @return the steps
     */
    public int getSteps() {
        return (Integer) get(Key.STEPS);
    }

    /**
     * Returns JLCM's codebook learning rate, relative to the codebook's RMS.
     *
     * @return the rate
     */
    public float getCodebookRate() {
        return (Float) get(Key.CODEBOOK_RATE);
    }

    /**
     * Returns JLCM's scale learning rate, relative to the mean scale.
     *
     * @return the rate
     */
    public float getScaleRate() {
        return (Float) get(Key.SCALE_RATE);
    }

    /**
     * Returns JLCM's latent learning rate, in mean codeword spacings per step.
     *
     * @return the rate
     */
    public float getLatentRate() {
        return (Float) get(Key.LATENT_RATE);
    }

    /**
     * Returns PROXIMAL's factor for a move outward from an edge codeword (1: the latent may drift
     * while the mapping stays; 0: no outward move).
     *
     * @return φ at the edge
     */
    public float getEdgePhi() {
        return (Float) get(Key.EDGE_PHI);
    }

    /**
     * Returns whether PROXIMAL weights the latent's Adam step by φ (true) or its gradient before
     * Adam (false: the literal form, which Adam's normalization largely undoes).
     *
     * @return whether φ weights the step
     */
    public boolean isPhiOnStep() {
        return (Boolean) get(Key.PHI_ON_STEP);
    }

    /**
     * Returns SOFT's temperature, in mean codeword spacings.
     *
     * @return the temperature
     */
    public float getSoftTemperature() {
        return (Float) get(Key.SOFT_TEMPERATURE);
    }

    /**
     * Returns how many moves a NEIGHBOURS step makes at most in each row, where the loss gives the
     * coupling of a row's weights (linear layers; convolutions make one).
     *
     * @return the moves per row and step
     */
    public int getNeighbourMoves() {
        return (Integer) get(Key.NEIGHBOUR_MOVES);
    }

    /**
     * Returns the Gram dampening λ of linear layers' loss (JLCM and GPTQ).
     *
     * @return λ
     */
    public float getDampening() {
        return (Float) get(Key.DAMPENING);
    }

    /**
     * Returns the seed of JLCM's neuron grouping.
     *
     * @return the seed
     */
    public long getSeed() {
        return (Long) get(Key.SEED);
    }

    /**
     * Returns the weight count below which a layer is left uncompressed.
     *
     * @return the minimum weight count
     */
    public long getMinWeights() {
        return (Long) get(Key.MIN_WEIGHTS);
    }

    /**
     * Returns whether the layer is left uncompressed.
     *
     * @return whether it is skipped
     */
    public boolean isSkip() {
        return (Boolean) get(Key.SKIP);
    }

    private Object get(Key key) {
        Object v = values.get(key);
        if (v == null) {
            throw new IllegalStateException(key.text + " is not set in these partial settings");
        }
        return v;
    }

    /**
     * Returns the settings as {@code name=value} pairs separated by spaces, in a fixed order; the
     * text of equal settings is equal, and any changed value changes it.
     *
     * @return the canonical text
     */
    @Override
    public String toString() {
        StringJoiner sj = new StringJoiner(" ");
        values.forEach((k, v) -> sj.add(k.text + "=" + text(v)));
        return sj.toString();
    }

    private static String text(Object v) {
        if (v instanceof Method) {
            return ((Method) v).label();
        }
        return v instanceof Enum ? ((Enum<?>) v).name().toLowerCase(Locale.ROOT) : String.valueOf(v);
    }

    /** {@inheritDoc} */
    @Override
    public boolean equals(Object o) {
        return o instanceof LayerSettings && values.equals(((LayerSettings) o).values);
    }

    /** {@inheritDoc} */
    @Override
    public int hashCode() {
        return values.hashCode();
    }

    /** Builds {@link LayerSettings}; each method checks its value and sets one setting. */
    public static final class Builder {

        private final Map<Key, Object> values;

        Builder(Map<Key, Object> values) {
            this.values = values;
        }

        private Builder set(Key key, Object value) {
            values.put(key, Objects.requireNonNull(value, key.text));
            return this;
        }

        private static void check(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException(message);
            }
        }

        /**
         * Sets the method.
         *
         * @param method the method
         * @return this builder
         */
        public Builder optMethod(Method method) {
            return set(Key.METHOD, method);
        }

        /**
         * Sets the bits per weight.
         *
         * @param bits 1 to 8
         * @return this builder
         */
        public Builder optBits(int bits) {
            CompressedWeight.checkBits(bits);
            return set(Key.BITS, bits);
        }

        /**
         * Sets the number of consecutive weights of a row that share one codeword (vector codebooks);
         * the index then takes {@code bits · vectorLength} bits, at most 8.
         *
         * @param vectorLength 1 (scalar codebooks) to 8
         * @return this builder
         */
        public Builder optVectorLength(int vectorLength) {
            check(
                    vectorLength >= 1 && vectorLength <= CompressedWeight.MAX_VECTOR_LENGTH,
                    "vector length must be between 1 and " + CompressedWeight.MAX_VECTOR_LENGTH + ", got " + vectorLength);
            return set(Key.VECTOR_LENGTH, vectorLength);
        }

        /**
         * Sets the neuron groups per layer.
         *
         * @param groups at least 1
         * @return this builder
         */
        public Builder optGroups(int groups) {
            check(groups >= 1, "groups must be positive: " + groups);
            return set(Key.GROUPS, groups);
        }

        /**
         * Sets the codebook mode.
         *
         * @param mode the mode
         * @return this builder
         */
        public Builder optMode(CodebookMode mode) {
            return set(Key.MODE, mode);
        }

        /**
         * Sets how JLCM's mappings learn.
         *
         * @param mapping the mapping update
         * @return this builder
         */
        public Builder optMapping(MappingUpdate mapping) {
            return set(Key.MAPPING, mapping);
        }

        /**
         * Sets JLCM's optimization steps per layer.
         *
         * @param steps at least 0
         * @return this builder
         */
        public Builder optSteps(int steps) {
            check(steps >= 0, "steps must not be negative: " + steps);
            return set(Key.STEPS, steps);
        }

        /**
         * Sets JLCM's learning rates.
         *
         * @param codebook codebook rate, relative to the codebook's RMS
         * @param scale scale rate, relative to the mean scale
         * @param latent latent rate, in mean codeword spacings per step
         * @return this builder
         */
        public Builder optLearningRates(float codebook, float scale, float latent) {
            check(codebook >= 0 && scale >= 0 && latent >= 0, "learning rates must be >= 0");
            set(Key.CODEBOOK_RATE, codebook);
            set(Key.SCALE_RATE, scale);
            return set(Key.LATENT_RATE, latent);
        }

        /**
         * Sets PROXIMAL's φ for an outward move at a codebook's edge.
         *
         * @param edgePhi in [0, 1]
         * @return this builder
         */
        public Builder optEdgePhi(float edgePhi) {
            check(edgePhi >= 0 && edgePhi <= 1, "edgePhi must be in [0, 1]: " + edgePhi);
            return set(Key.EDGE_PHI, edgePhi);
        }

        /**
         * Sets where PROXIMAL applies φ: to the latent's Adam step (true), or to its gradient before
         * Adam (false).
         *
         * @param phiOnStep whether φ weights the step
         * @return this builder
         */
        public Builder optPhiOnStep(boolean phiOnStep) {
            return set(Key.PHI_ON_STEP, phiOnStep);
        }

        /**
         * Sets SOFT's temperature in mean codeword spacings.
         *
         * @param temperature greater than 0
         * @return this builder
         */
        public Builder optSoftTemperature(float temperature) {
            check(temperature > 0, "temperature must be > 0: " + temperature);
            return set(Key.SOFT_TEMPERATURE, temperature);
        }

        /**
         * Sets how many moves a NEIGHBOURS step makes at most in each row of a linear layer, one after
         * the other on the gradient the previous ones changed (default 1, the row's best move; README,
         * NEIGHBOURS: more fit the calibration set closer but generalized worse on BERT-base).
         *
         * @param moves 1 to 64
         * @return this builder
         */
        public Builder optNeighbourMoves(int moves) {
            check(moves >= 1 && moves <= 64, "NEIGHBOURS moves must be 1-64: " + moves);
            return set(Key.NEIGHBOUR_MOVES, moves);
        }

        /**
         * Sets the Gram dampening λ of linear layers' loss.
         *
         * @param dampening at least 0
         * @return this builder
         */
        public Builder optDampening(float dampening) {
            check(dampening >= 0, "dampening must be >= 0: " + dampening);
            return set(Key.DAMPENING, dampening);
        }

        /**
         * Sets the seed of JLCM's neuron grouping.
         *
         * @param seed the seed
         * @return this builder
         */
        public Builder optSeed(long seed) {
            return set(Key.SEED, seed);
        }

        /**
         * Leaves layers with fewer weights than this uncompressed.
         *
         * @param minWeights at least 0
         * @return this builder
         */
        public Builder optMinWeights(long minWeights) {
            check(minWeights >= 0, "minWeights must not be negative: " + minWeights);
            return set(Key.MIN_WEIGHTS, minWeights);
        }

        /**
         * Leaves the layer uncompressed (true) or compresses it (false).
         *
         * @param skip whether to skip
         * @return this builder
         */
        public Builder optSkip(boolean skip) {
            return set(Key.SKIP, skip);
        }

        /**
         * Builds the settings.
         *
         * @return the settings
         */
        public LayerSettings build() {
            return new LayerSettings(values);
        }
    }
}
