package ai.djl.jlcm.loading;

import ai.djl.jlcm.export.JlcmBlockFactory;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Conv1d;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.convolutional.Conv3d;
import ai.djl.nn.core.Linear;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The {@code jlcm.*} settings of one load, parsed and checked. The keys that say what to compress
 * and how parse into a {@link CompressionPlan} (method, bits, vector length, groups, mode, steps, seed and
 * minWeights set its defaults; layers its layer types; include and exclude path rules that skip
 * layers). Every error names the key, its value and where it was set.
 */
final class LoadConfig {

    static final String PREFIX = "jlcm.";
    static final String METHOD = "jlcm.method";
    static final String BITS = "jlcm.bits";
    static final String VECTOR_LENGTH = "jlcm.vectorLength";
    static final String GROUPS = "jlcm.groups";
    static final String MODE = "jlcm.mode";
    static final String LAYERS = "jlcm.layers";
    static final String INCLUDE = "jlcm.include";
    static final String EXCLUDE = "jlcm.exclude";
    static final String MIN_WEIGHTS = "jlcm.minWeights";
    static final String STEPS = "jlcm.steps";
    static final String SEED = "jlcm.seed";
    static final String CALIBRATION = "jlcm.calibration";
    static final String CALIBRATION_BATCH = "jlcm.calibrationBatch";
    static final String BLOCK_FACTORY = "jlcm.blockFactory";
    static final String CACHE_DIR = "jlcm.cacheDir";
    static final String CACHE_ENABLED = "jlcm.cacheEnabled";
    static final String MEMORY_MODE = JlcmBlockFactory.MEMORY_MODE;

    /** Every key this class reads, in the order the README lists them. */
    static final List<String> KEYS =
            List.of(
                    METHOD,
                    BITS,
                    VECTOR_LENGTH,
                    GROUPS,
                    MODE,
                    LAYERS,
                    INCLUDE,
                    EXCLUDE,
                    MIN_WEIGHTS,
                    STEPS,
                    SEED,
                    CALIBRATION,
                    CALIBRATION_BATCH,
                    BLOCK_FACTORY,
                    CACHE_DIR,
                    CACHE_ENABLED,
                    MEMORY_MODE);

    static final int DEFAULT_CALIBRATION_BATCH = 128;

    /** The methods {@value #METHOD} accepts. */
    private static final List<Method> METHODS = List.of(Method.KMEANS, Method.RTN, Method.JLCM);

    private static final Map<String, Class<? extends Block>> LAYER_NAMES =
            Map.of("linear", Linear.class, "conv1d", Conv1d.class, "conv2d", Conv2d.class, "conv3d", Conv3d.class);

    /** What to compress and how: the keys' plan, with the builder's plan (if any) over it. */
    final CompressionPlan plan;
    final String calibrationFile;
    final int calibrationBatch;
    final String floatFactory;
    final boolean cacheEnabled;
    final Path cacheDir;
    final String cacheDirSource;
    final MemoryMode memoryMode;
    /** The keys as given, for messages. */
    final Map<String, String> given;

    private final Function<String, String> sourceOf;
    private final boolean partial;

    private LoadConfig(
            Map<String, String> values,
            CompressionPlan builderPlan,
            boolean javaCalibration,
            Function<String, String> sourceOf,
            Path modelDir,
            boolean partial) {
        this.sourceOf = sourceOf;
        this.partial = partial;
        given = new LinkedHashMap<>();
        for (String key : KEYS) {
            if (values.containsKey(key)) {
                given.put(key, values.get(key));
            }
        }
        for (String key : new TreeSet<>(values.keySet())) {
            if (key.startsWith(PREFIX) && !KEYS.contains(key)) {
                throw new IllegalArgumentException(
                        "Unknown key "
                                + key
                                + " ("
                                + sourceOf.apply(key)
                                + ")"
                                + suggestion(key)
                                + ". Known keys: "
                                + String.join(", ", KEYS));
            }
        }
        calibrationFile = text(CALIBRATION);
        if (calibrationFile != null && javaCalibration) {
            throw invalid(
                    CALIBRATION,
                    "calibration inputs are also given to CompressingBlockFactory.Builder.optCalibration; give them one way");
        }
        boolean calibrated = calibrationFile != null || javaCalibration;
        String methodText = text(METHOD);
        Method method;
        if (methodText == null) {
            method = calibrated ? Method.JLCM : Method.KMEANS;
        } else {
            method = method(methodText);
            if (method == Method.JLCM && !calibrated && !partial) {
                throw invalid(
                        METHOD,
                        "JLCM learns from calibration inputs: set "
                                + CALIBRATION
                                + " (an NDList file in the model directory) or"
                                + " CompressingBlockFactory.Builder.optCalibration, or use kmeans (data-free)");
            }
            if (method != Method.JLCM && calibrated) {
                String where = calibrationFile != null ? CALIBRATION + "=" + calibrationFile : "optCalibration";
                throw invalid(
                        METHOD,
                        "calibration inputs ("
                                + where
                                + ") are only used by jlcm; remove them or set "
                                + METHOD
                                + "=jlcm");
            }
        }
        LayerSettings.Builder defaults = LayerSettings.builder().optMethod(method);
        if (given.containsKey(BITS)) {
            defaults.optBits(integer(BITS, CompressedWeight.MIN_BITS, CompressedWeight.MAX_BITS));
        }
        if (method == Method.RTN) {
            notFor(VECTOR_LENGTH, method, "rtn has no vector codebooks");
            notFor(GROUPS, method, "rtn keeps one codebook per output channel");
            notFor(MODE, method, "rtn keeps one codebook per output channel");
        }
        if (given.containsKey(VECTOR_LENGTH)) {
            int vectorLength = integer(VECTOR_LENGTH, 1, CompressedWeight.MAX_VECTOR_LENGTH);
            int bits = given.containsKey(BITS) ? integer(BITS, CompressedWeight.MIN_BITS, CompressedWeight.MAX_BITS) : LayerSettings.DEFAULT_BITS;
            if (bits * vectorLength > CompressedWeight.MAX_BITS) {
                throw invalid(VECTOR_LENGTH, bits + " bits per weight times it exceed the " + CompressedWeight.MAX_BITS + "-bit index");
            }
            defaults.optVectorLength(vectorLength);
        }
        if (given.containsKey(GROUPS)) {
            defaults.optGroups(integer(GROUPS, 1, Integer.MAX_VALUE));
        }
        String modeText = text(MODE);
        if (modeText != null) {
            defaults.optMode(choice(MODE, modeText, CodebookMode.class));
        }
        Set<Class<? extends Block>> layerTypes = layers(text(LAYERS));
        Pattern include = pattern(INCLUDE);
        Pattern exclude = pattern(EXCLUDE);
        if (given.containsKey(MIN_WEIGHTS)) {
            defaults.optMinWeights(longValue(MIN_WEIGHTS, 0, Long.MAX_VALUE));
        }
        if (method != Method.JLCM) {
            notFor(STEPS, method, "only jlcm learns");
            notFor(SEED, method, "only jlcm's neuron grouping is seeded");
        }
        if (calibrationFile == null) {
            notFor(CALIBRATION_BATCH, method, "it splits the " + CALIBRATION + " file, which is not set");
        }
        if (given.containsKey(STEPS)) {
            defaults.optSteps(integer(STEPS, 0, Integer.MAX_VALUE));
        }
        if (given.containsKey(SEED)) {
            defaults.optSeed(longValue(SEED, Long.MIN_VALUE, Long.MAX_VALUE));
        }
        CompressionPlan.Builder keys = CompressionPlan.builder().optLayerTypes(layerTypes);
        if (include != null) {
            defaults.optSkip(true);
            keys.optForPath(include.pattern(), LayerSettings.builder().optSkip(false).build());
        }
        if (exclude != null) {
            keys.optForPath(exclude.pattern(), LayerSettings.builder().optSkip(true).build());
        }
        CompressionPlan fromKeys = keys.optDefaults(defaults.build()).build();
        plan = builderPlan == null ? fromKeys : fromKeys.overriddenBy(builderPlan);
        if (builderPlan != null && !partial && plan.usesCalibration() != calibrated) {
            throw new IllegalArgumentException(
                    "The plan of CompressingBlockFactory.Builder.optPlan ("
                            + plan
                            + ") "
                            + (calibrated
                                    ? "gives no layer a calibrated method, but calibration inputs are given; remove them"
                                    : "gives layers a calibrated method, which learns from calibration inputs: set "
                                            + CALIBRATION
                                            + " or CompressingBlockFactory.Builder.optCalibration"));
        }
        calibrationBatch = given.containsKey(CALIBRATION_BATCH) ? integer(CALIBRATION_BATCH, 1, Integer.MAX_VALUE) : DEFAULT_CALIBRATION_BATCH;
        floatFactory = text(BLOCK_FACTORY);
        cacheEnabled = bool(CACHE_ENABLED, true);
        String memoryText = text(MEMORY_MODE);
        try {
            memoryMode = memoryText == null ? MemoryMode.PACKED : MemoryMode.fromKey(memoryText);
        } catch (IllegalArgumentException e) {
            throw invalid(MEMORY_MODE, "allowed values: " + MemoryMode.allowedKeys());
        }
        String dir = text(CACHE_DIR);
        if (dir != null) {
            Path p = path(CACHE_DIR, dir);
            cacheDir = modelDir == null || p.isAbsolute() ? p : modelDir.resolve(p);
            cacheDirSource = CACHE_DIR + " (" + sourceOf.apply(CACHE_DIR) + ")";
        } else {
            String property = System.getProperty(CACHE_DIR);
            if (property != null && !property.isBlank()) {
                cacheDir = path("system property " + CACHE_DIR, property);
                cacheDirSource = "system property " + CACHE_DIR;
            } else {
                cacheDir = defaultCacheDir();
                cacheDirSource = "the default cache directory; set " + CACHE_DIR + " to change it";
            }
        }
    }

    /**
     * Parses and checks settings.
     *
     * @param values the {@code jlcm.*} keys (other keys are ignored)
     * @param builderPlan the plan given to the factory's builder, applied over the keys' plan, or
     *     {@code null}
     * @param javaCalibration whether calibration inputs were given in Java
     * @param sourceOf where a key was set, for messages
     * @param modelDir the model directory relative paths resolve against, or {@code null}
     * @return the settings
     * @throws IllegalArgumentException naming the first bad key
     */
    static LoadConfig parse(
            Map<String, String> values,
            CompressionPlan builderPlan,
            boolean javaCalibration,
            Function<String, String> sourceOf,
            Path modelDir) {
        return new LoadConfig(values, builderPlan, javaCalibration, sourceOf, modelDir, false);
    }

    /**
     * Checks the values of settings made in Java before the load; the checks between keys wait for
     * the load, where the model directory's keys are known too.
     *
     * @param values the settings
     * @param javaCalibration whether calibration inputs were given in Java
     * @param sourceOf where a key was set, for messages
     * @throws IllegalArgumentException naming the first bad key
     */
    static void checkValues(Map<String, String> values, boolean javaCalibration, Function<String, String> sourceOf) {
        new LoadConfig(values, null, javaCalibration, sourceOf, null, true);
    }

    /**
     * The default directory of compressed models: {@code compressed} under the system property
     * {@code jlcm.cache}, else the environment variable {@code JLCM_CACHE}, else {@code
     * ${user.home}/.cache/jlcm} (the cache the examples use for downloads).
     *
     * @return the directory
     */
    static Path defaultCacheDir() {
        String base = System.getProperty("jlcm.cache");
        if (base == null || base.isBlank()) {
            base = System.getenv("JLCM_CACHE");
        }
        Path root =
                base == null || base.isBlank()
                        ? Paths.get(System.getProperty("user.home"), ".cache", "jlcm")
                        : Paths.get(base);
        return root.resolve("compressed");
    }

    /** Where a key was set, for messages. */
    String sourceOf(String key) {
        return sourceOf.apply(key);
    }

    /**
     * The settings that decide the compressed weights, for the cache key and logs: the plan (every
     * setting, defaults included), and the batch size of a calibration file. Run-time settings
     * (cache directory, memory mode, the float factory's name) are left out.
     */
    String canonical() {
        String text = "plan=" + plan + "\n";
        if (plan.usesCalibration() && calibrationFile != null) {
            text += "calibrationBatch=" + calibrationBatch + "\n";
        }
        return text;
    }

    /** The selection keys as given, for the "selects no layer" message. */
    String selectionKeys() {
        List<String> parts = new ArrayList<>();
        for (String key : List.of(LAYERS, INCLUDE, EXCLUDE, MIN_WEIGHTS)) {
            if (given.containsKey(key)) {
                parts.add(key + "=" + given.get(key) + " (" + sourceOf.apply(key) + ")");
            }
        }
        return parts.isEmpty() ? "the default selection (all Linear and Conv1d/2d/3d layers)" : String.join(", ", parts);
    }

    private String text(String key) {
        String v = given.get(key);
        if (v == null) {
            return null;
        }
        v = v.trim();
        if (v.isEmpty()) {
            throw invalid(key, "the value is empty");
        }
        return v;
    }

    private void notFor(String key, Method method, String reason) {
        if (given.containsKey(key) && !partial) {
            throw invalid(key, "it does not apply to " + METHOD + "=" + method.label() + ": " + reason);
        }
    }

    private int integer(String key, int min, int max) {
        return Math.toIntExact(longValue(key, min, max));
    }

    private long longValue(String key, long min, long max) {
        String v = text(key);
        long x;
        try {
            x = Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw invalid(key, "not an integer");
        }
        if (x < min || x > max) {
            throw invalid(key, "must be " + range(min, max));
        }
        return x;
    }

    private static String range(long min, long max) {
        if (max == Integer.MAX_VALUE || max == Long.MAX_VALUE) {
            return ">= " + min;
        }
        return "from " + min + " to " + max;
    }

    private boolean bool(String key, boolean def) {
        String v = text(key);
        if (v == null) {
            return def;
        }
        if ("true".equalsIgnoreCase(v)) {
            return true;
        }
        if ("false".equalsIgnoreCase(v)) {
            return false;
        }
        throw invalid(key, "must be true or false");
    }

    private Method method(String v) {
        for (Method m : METHODS) {
            if (m.label().equalsIgnoreCase(v)) {
                return m;
            }
        }
        throw invalid(METHOD, "must be one of kmeans, rtn, jlcm");
    }

    private <E extends Enum<E>> E choice(String key, String v, Class<E> type) {
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(v)) {
                return e;
            }
        }
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            names.add(e.name().toLowerCase(Locale.ROOT));
        }
        throw invalid(key, "must be one of " + String.join(", ", names));
    }

    private Set<Class<? extends Block>> layers(String v) {
        if (v == null) {
            return CompressionPlan.SUPPORTED_TYPES;
        }
        Set<String> names = new TreeSet<>();
        for (String part : v.split(",")) {
            String name = part.trim().toLowerCase(Locale.ROOT);
            if ("all".equals(name)) {
                names.addAll(LAYER_NAMES.keySet());
            } else if ("conv".equals(name)) {
                names.addAll(List.of("conv1d", "conv2d", "conv3d"));
            } else if (LAYER_NAMES.containsKey(name)) {
                names.add(name);
            } else {
                throw invalid(
                        LAYERS,
                        "'" + part.trim() + "' is not a layer type; use a comma-separated list of linear, conv,"
                                + " conv1d, conv2d, conv3d or all");
            }
        }
        Set<Class<? extends Block>> types = new LinkedHashSet<>();
        for (String name : names) {
            types.add(LAYER_NAMES.get(name));
        }
        return types;
    }

    private Pattern pattern(String key) {
        String v = text(key);
        if (v == null) {
            return null;
        }
        try {
            return Pattern.compile(v);
        } catch (PatternSyntaxException e) {
            throw invalid(key, "not a regular expression: " + e.getDescription());
        }
    }

    private Path path(String key, String v) {
        try {
            return Paths.get(v);
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException(
                    "Invalid " + key + "=" + v + ": not a path (" + e.getMessage() + ")", e);
        }
    }

    private IllegalArgumentException invalid(String key, String reason) {
        return new IllegalArgumentException(
                "Invalid " + key + "=" + given.get(key) + " (" + sourceOf.apply(key) + "): " + reason);
    }

    /** A "did you mean" for a misspelled key. */
    private static String suggestion(String key) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String known : KEYS) {
            int d = distance(key.toLowerCase(Locale.ROOT), known.toLowerCase(Locale.ROOT));
            if (d < bestDistance) {
                bestDistance = d;
                best = known;
            }
        }
        return bestDistance <= 3 ? "; did you mean " + best + "?" : "";
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
