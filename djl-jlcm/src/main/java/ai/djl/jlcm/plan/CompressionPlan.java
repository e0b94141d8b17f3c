package ai.djl.jlcm.plan;

import ai.djl.jlcm.learn.MappingUpdate;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Conv1d;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.convolutional.Conv3d;
import ai.djl.nn.core.Linear;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.StringJoiner;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * How every layer of a model is compressed: default settings, overrides by layer type and overrides
 * by path pattern, resolved for each layer ({@link #resolve}). Immutable; the one description of a
 * compression that {@code Jlcm}, {@code CodebookTransformer}, {@code CompressingBlockFactory} (its
 * {@code jlcm.*} keys parse into a plan) and the CLI commands use.
 *
 * <p>Precedence, lowest first: the {@link LayerSettings#defaults() library defaults}, this plan's
 * {@link Builder#optDefaults defaults}, the type rules whose type the layer is an instance of, then
 * the path rules whose pattern is found in the layer's path. Each rule overrides only the settings
 * it sets, and among rules of one kind a later one wins. A path pattern is a Java regular expression
 * searched in the path ({@link java.util.regex.Matcher#find()}): {@code "05Linear"} matches {@code
 * "01SequentialBlock/05Linear"}; anchor it ({@code "^embeddings/word_embeddings$"}) for one layer.
 *
 * <pre>{@code
 * CompressionPlan plan = CompressionPlan.builder()
 *         .optDefaults(LayerSettings.builder().optMethod(Method.JLCM).optBits(2).build())
 *         .optForType(Conv2d.class, LayerSettings.builder().optBits(4).build())
 *         .optForPath("^classifier$", LayerSettings.builder().optSkip(true).build())
 *         .build();
 * }</pre>
 *
 * <p>One default depends on the width: a JLCM layer at 1 bit whose mode no level of the plan sets
 * is {@link CodebookMode#SCALED} (one 2-value codebook and a scale per group), elsewhere {@link
 * CodebookMode#MULTI}. With two codewords, learned mappings did better with a shared codebook on
 * every MNIST network measured without batch norm, and level with it (README, the 1-bit mode).
 *
 * <p>Modelled on Core ML's palettization config (global, per module type and per module name
 * configs, kept apart from the algorithms).
 */
public final class CompressionPlan {

    /** The block types a plan can compress. */
    public static final Set<Class<? extends Block>> SUPPORTED_TYPES =
            Set.of(Linear.class, Conv1d.class, Conv2d.class, Conv3d.class);

    private final LayerSettings defaults;
    private final List<TypeRule> typeRules;
    private final List<PathRule> pathRules;
    private final Set<Class<? extends Block>> layerTypes;

    private CompressionPlan(Builder b) {
        defaults = b.defaults;
        typeRules = List.copyOf(b.typeRules);
        pathRules = List.copyOf(b.pathRules);
        layerTypes = Set.copyOf(b.layerTypes);
    }

    /**
     * Creates a builder.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Creates a plan with these defaults and no rules.
     *
     * @param defaults the defaults (partial: the rest are the library's)
     * @return the plan
     */
    public static CompressionPlan of(LayerSettings defaults) {
        return builder().optDefaults(defaults).build();
    }

    /**
     * Returns a builder holding this plan's defaults, rules and layer types.
     *
     * @return a builder
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.defaults = defaults;
        b.typeRules.addAll(typeRules);
        b.pathRules.addAll(pathRules);
        b.layerTypes = layerTypes;
        return b;
    }

    /**
     * Returns the plan's defaults as given (possibly partial).
     *
     * @return the defaults
     */
    public LayerSettings getDefaults() {
        return defaults;
    }

    /**
     * Returns the layer types the plan compresses.
     *
     * @return a subset of {@link #SUPPORTED_TYPES}
     */
    public Set<Class<? extends Block>> getLayerTypes() {
        return layerTypes;
    }

    /**
     * Returns the complete settings of a layer (see the class comment for the precedence).
     *
     * @param path the layer's path in the block tree
     * @param layer the layer
     * @return the settings, every value set
     */
    public LayerSettings resolve(String path, Block layer) {
        return resolve(path, layer, LayerSettings.builder().build());
    }

    /**
     * Returns the complete settings of a layer as if a last path rule set {@code bits} for it (what
     * a bit allocation's rule does).
     *
     * @param path the layer's path in the block tree
     * @param layer the layer
     * @param bits the layer's index width
     * @return the settings, every value set
     */
    public LayerSettings resolve(String path, Block layer, int bits) {
        return resolve(path, layer, LayerSettings.builder().optBits(bits).build());
    }

    private LayerSettings resolve(String path, Block layer, LayerSettings last) {
        LayerSettings s = LayerSettings.defaults().overriddenBy(defaults);
        boolean modeSet = defaults.has(LayerSettings.Key.MODE);
        boolean mappingSet = defaults.has(LayerSettings.Key.MAPPING);
        for (TypeRule r : typeRules) {
            if (r.type.isInstance(layer)) {
                s = s.overriddenBy(r.settings);
                modeSet |= r.settings.has(LayerSettings.Key.MODE);
                mappingSet |= r.settings.has(LayerSettings.Key.MAPPING);
            }
        }
        for (PathRule r : pathRules) {
            if (r.pattern.matcher(path).find()) {
                s = s.overriddenBy(r.settings);
                modeSet |= r.settings.has(LayerSettings.Key.MODE);
                mappingSet |= r.settings.has(LayerSettings.Key.MAPPING);
            }
        }
        s = s.overriddenBy(last);
        if (!modeSet && s.getMethod() == Method.JLCM && s.getBits() == 1) {
            s = s.overriddenBy(LayerSettings.builder().optMode(CodebookMode.SCALED).build());
        }
        if (s.getVectorLength() > 1 && !mappingSet) {
            s = s.overriddenBy(LayerSettings.builder().optMapping(MappingUpdate.FROZEN).build());
        }
        checkVectors(path, s);
        return s;
    }

    /**
     * Vector codebooks: k-means, JLCM and GPTQ onto k-means codebooks only, an index of at most 8
     * bits, and for JLCM FROZEN mappings (the mapping updates move along a sorted scalar codebook).
     */
    private static void checkVectors(String path, LayerSettings s) {
        int d = s.getVectorLength();
        if (d == 1) {
            return;
        }
        if (s.getMethod() == Method.JLCM && s.getMapping() != MappingUpdate.FROZEN) {
            throw new IllegalArgumentException(
                    "Layer " + path + ": vector codebooks (vector length " + d + ") learn with frozen mappings only, not "
                            + s.getMapping().name().toLowerCase(Locale.ROOT));
        }
        if (s.getMethod() != Method.KMEANS && s.getMethod() != Method.JLCM && s.getMethod() != Method.GPTQ_CODEBOOK) {
            throw new IllegalArgumentException(
                    "Layer " + path + ": vector codebooks (vector length " + d + ") need method kmeans, jlcm or gptq-codebook, not "
                            + s.getMethod().label());
        }
        if (s.getIndexBits() > CompressedWeight.MAX_BITS) {
            throw new IllegalArgumentException(
                    "Layer " + path + ": " + s.getBits() + " bits per weight in vectors of " + d + " need "
                            + s.getIndexBits() + "-bit indices, more than " + CompressedWeight.MAX_BITS);
        }
    }

    /**
     * Returns whether a layer is of one of the plan's {@link #getLayerTypes() types}; the resolved
     * settings then say whether it is skipped.
     *
     * @param layer a block
     * @return whether it is a candidate
     */
    public boolean isCandidate(Block layer) {
        for (Class<? extends Block> type : layerTypes) {
            if (type.isInstance(layer)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Returns whether any layer may get a calibrated method (the defaults or a rule set one).
     *
     * @return whether the plan needs calibration inputs
     */
    public boolean usesCalibration() {
        if (resolvedDefaults().getMethod().isCalibrated()) {
            return true;
        }
        for (TypeRule r : typeRules) {
            if (r.settings.has(LayerSettings.Key.METHOD) && r.settings.getMethod().isCalibrated()) {
                return true;
            }
        }
        for (PathRule r : pathRules) {
            if (r.settings.has(LayerSettings.Key.METHOD) && r.settings.getMethod().isCalibrated()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Returns the library defaults overridden by this plan's defaults.
     *
     * @return complete settings
     */
    public LayerSettings resolvedDefaults() {
        return LayerSettings.defaults().overriddenBy(defaults);
    }

    /**
     * Returns this plan with {@code method} as its default method, unless its defaults set one.
     *
     * @param method the method for layers no rule gives one
     * @return the plan
     */
    public CompressionPlan withDefaultMethod(Method method) {
        if (defaults.getMethod() != null) {
            return this;
        }
        return toBuilder().optDefaults(LayerSettings.builder().optMethod(method).build().overriddenBy(defaults)).build();
    }

    /**
     * Returns a plan where {@code override} wins over this one: its defaults override these, its
     * rules come after these (so they win), and its layer types replace these when it narrows them.
     *
     * @param override the plan that wins
     * @return the merged plan
     */
    public CompressionPlan overriddenBy(CompressionPlan override) {
        Builder b = toBuilder().optDefaults(defaults.overriddenBy(override.defaults));
        b.typeRules.addAll(override.typeRules);
        b.pathRules.addAll(override.pathRules);
        if (!override.layerTypes.equals(SUPPORTED_TYPES)) {
            b.layerTypes = override.layerTypes;
        }
        return b.build();
    }

    /**
     * Returns the plan as one line: the resolved defaults, the layer types, then each rule in order.
     * Any change of a setting, a rule or the layer types changes it (cache keys rely on that).
     *
     * @return the canonical text
     */
    @Override
    public String toString() {
        StringJoiner sj = new StringJoiner("; ");
        sj.add("defaults: " + resolvedDefaults());
        if (!defaults.has(LayerSettings.Key.MODE)) {
            sj.add("mode of 1-bit jlcm layers: scaled");
        }
        List<String> types = new ArrayList<>();
        layerTypes.stream().map(Class::getName).sorted(Comparator.naturalOrder()).forEach(types::add);
        sj.add("types: " + String.join(",", types));
        for (TypeRule r : typeRules) {
            sj.add("type " + r.type.getName() + ": " + r.settings);
        }
        for (PathRule r : pathRules) {
            sj.add("path /" + r.pattern.pattern() + "/: " + r.settings);
        }
        return sj.toString();
    }

    /** {@inheritDoc} */
    @Override
    public boolean equals(Object o) {
        return o instanceof CompressionPlan && toString().equals(o.toString());
    }

    /** {@inheritDoc} */
    @Override
    public int hashCode() {
        return toString().hashCode();
    }

    private record TypeRule(Class<? extends Block> type, LayerSettings settings) {}

    private record PathRule(Pattern pattern, LayerSettings settings) {}

    /** Builds a {@link CompressionPlan}. */
    public static final class Builder {

        private LayerSettings defaults = LayerSettings.builder().build();
        private final List<TypeRule> typeRules = new ArrayList<>();
        private final List<PathRule> pathRules = new ArrayList<>();
        private Set<Class<? extends Block>> layerTypes = SUPPORTED_TYPES;

        Builder() {}

        /**
         * Sets the defaults of every layer (default: the library's, {@link LayerSettings#defaults()});
         * settings left unset here keep the library's.
         *
         * @param defaults the defaults
         * @return this builder
         */
        public Builder optDefaults(LayerSettings defaults) {
            this.defaults = Objects.requireNonNull(defaults, "defaults");
            return this;
        }

        /**
         * Adds an override for the layers that are instances of a type.
         *
         * @param type a block type, such as {@code Linear.class}
         * @param overrides the settings that win for those layers
         * @return this builder
         */
        public Builder optForType(Class<? extends Block> type, LayerSettings overrides) {
            typeRules.add(new TypeRule(Objects.requireNonNull(type, "type"), Objects.requireNonNull(overrides, "overrides")));
            return this;
        }

        /**
         * Adds an override for the layers whose path contains a match of a regular expression.
         *
         * @param pattern a Java regular expression, searched in the path
         * @param overrides the settings that win for those layers
         * @return this builder
         * @throws IllegalArgumentException if the pattern is not a regular expression
         */
        public Builder optForPath(String pattern, LayerSettings overrides) {
            Pattern p;
            try {
                p = Pattern.compile(pattern);
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("not a regular expression: " + pattern + " (" + e.getDescription() + ")", e);
            }
            pathRules.add(new PathRule(p, Objects.requireNonNull(overrides, "overrides")));
            return this;
        }

        /**
         * Sets the layer types to compress (default: Linear, Conv1d, Conv2d, Conv3d).
         *
         * @param types a non-empty subset of {@link #SUPPORTED_TYPES}
         * @return this builder
         * @throws IllegalArgumentException if a type is not supported or none is given
         */
        public Builder optLayerTypes(Set<Class<? extends Block>> types) {
            if (types.isEmpty()) {
                throw new IllegalArgumentException("no layer type selected");
            }
            for (Class<? extends Block> type : types) {
                if (!SUPPORTED_TYPES.contains(type)) {
                    throw new IllegalArgumentException(
                            "Layer type " + type.getName() + " is not supported; supported: Linear, Conv1d, Conv2d, Conv3d");
                }
            }
            this.layerTypes = new LinkedHashSet<>(types);
            return this;
        }

        /**
         * Builds the plan.
         *
         * @return the plan
         */
        public CompressionPlan build() {
            return new CompressionPlan(this);
        }
    }
}
