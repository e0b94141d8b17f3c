package ai.djl.jlcm.loading;

import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.nn.convolutional.Conv1d;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.convolutional.Conv3d;
import ai.djl.nn.core.Linear;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

public class LoadConfigTest {

    private static LoadConfig parse(Map<String, String> values) {
        return LoadConfig.parse(values, null, false, key -> "in test.properties", Paths.get("model-dir"));
    }

    private static String error(Map<String, String> values, boolean calibration) {
        return error(values, null, calibration);
    }

    private static String error(Map<String, String> values, CompressionPlan plan, boolean calibration) {
        IllegalArgumentException e =
                Assert.expectThrows(
                        IllegalArgumentException.class,
                        () -> LoadConfig.parse(values, plan, calibration, key -> "in test.properties", Paths.get("m")));
        return e.getMessage();
    }

    @Test
    public void defaultsAreDataFreeKMeansAtFourBits() {
        LoadConfig c = parse(Map.of("jlcm.cacheDir", "cache/x", "engine", "PyTorch"));
        LayerSettings d = c.plan.resolvedDefaults();
        Assert.assertEquals(d.getMethod(), Method.KMEANS);
        Assert.assertEquals(d.getBits(), 4);
        Assert.assertEquals(d.getGroups(), 4);
        Assert.assertEquals(d.getMode(), CodebookMode.MULTI);
        Assert.assertEquals(c.plan.getLayerTypes(), Set.of(Linear.class, Conv1d.class, Conv2d.class, Conv3d.class));
        Assert.assertTrue(c.cacheEnabled);
        Assert.assertEquals(c.memoryMode, MemoryMode.PACKED);
        Assert.assertFalse(c.plan.resolve("05Linear", Linear.builder().setUnits(1).build()).isSkip());
    }

    @Test
    public void calibrationSelectsJlcm() {
        LoadConfig c = LoadConfig.parse(Map.of("jlcm.steps", "3"), null, true, k -> "x", null);
        Assert.assertEquals(c.plan.resolvedDefaults().getMethod(), Method.JLCM);
        Assert.assertEquals(c.plan.resolvedDefaults().getSteps(), 3);
        Assert.assertTrue(c.canonical().contains("steps=3"));
    }

    @Test
    public void settingsAreParsed() {
        Map<String, String> v = new HashMap<>();
        v.put("jlcm.bits", " 2 ");
        v.put("jlcm.groups", "8");
        v.put("jlcm.vectorLength", "2");
        v.put("jlcm.mode", "SCALED");
        v.put("jlcm.layers", "linear, conv2d");
        v.put("jlcm.exclude", "07Linear$");
        v.put("jlcm.minWeights", "100");
        v.put("jlcm.cacheDir", "cache");
        v.put("jlcm.memoryMode", "FP16");
        LoadConfig c = parse(v);
        Linear layer = Linear.builder().setUnits(1).build();
        Assert.assertEquals(c.plan.resolvedDefaults().getBits(), 2);
        Assert.assertEquals(c.plan.resolvedDefaults().getVectorLength(), 2);
        Assert.assertEquals(c.plan.resolvedDefaults().getGroups(), 8);
        Assert.assertEquals(c.plan.resolvedDefaults().getMode(), CodebookMode.SCALED);
        Assert.assertEquals(c.plan.getLayerTypes(), Set.of(Linear.class, Conv2d.class));
        Assert.assertTrue(c.plan.resolve("01SequentialBlock/07Linear", layer).isSkip());
        Assert.assertFalse(c.plan.resolve("05Linear", layer).isSkip());
        Assert.assertEquals(c.plan.resolvedDefaults().getMinWeights(), 100);
        Assert.assertEquals(c.cacheDir, Paths.get("model-dir", "cache"), "relative to the model directory");
        Assert.assertEquals(c.memoryMode, MemoryMode.CACHE_FP16);
    }

    @Test
    public void unknownKeysAreNamedWithASuggestion() {
        String m = error(Map.of("jlcm.bitz", "2"), false);
        Assert.assertTrue(m.contains("Unknown key jlcm.bitz"), m);
        Assert.assertTrue(m.contains("in test.properties"), m);
        Assert.assertTrue(m.contains("did you mean jlcm.bits?"), m);
        m = error(Map.of("jlcm.cache", "/somewhere"), false);
        Assert.assertTrue(m.contains("Unknown key jlcm.cache "), m);
    }

    @Test
    public void malformedValuesAreNamed() {
        String[][] cases = {
            {"jlcm.bits", "two", "not an integer"},
            {"jlcm.bits", "9", "from 1 to 8"},
            {"jlcm.bits", "0", "from 1 to 8"},
            {"jlcm.groups", "0", ">= 1"},
            {"jlcm.vectorLength", "0", "from 1 to 8"},
            {"jlcm.vectorLength", "4", "4 bits per weight times it exceed the 8-bit index"},
            {"jlcm.mode", "grouped", "one of scaled, multi"},
            {"jlcm.method", "gptq", "one of kmeans, rtn, jlcm"},
            {"jlcm.layers", "linear,dense", "'dense' is not a layer type"},
            {"jlcm.include", "(", "not a regular expression"},
            {"jlcm.minWeights", "-1", ">= 0"},
            {"jlcm.cacheEnabled", "yes", "true or false"},
            {"jlcm.memoryMode", "bf16", "allowed values: packed|byte|fp16|fp32"},
            {"jlcm.blockFactory", " ", "empty"},
        };
        for (String[] c : cases) {
            String m = error(Map.of(c[0], c[1]), false);
            Assert.assertTrue(m.startsWith("Invalid " + c[0] + "=" + c[1] + " (in test.properties)"), m);
            Assert.assertTrue(m.contains(c[2]), m);
        }
    }

    @Test
    public void keysThatDoNotApplyToTheMethodAreErrors() {
        Assert.assertTrue(error(Map.of("jlcm.method", "rtn", "jlcm.groups", "4"), false).contains("jlcm.groups"));
        Assert.assertTrue(error(Map.of("jlcm.method", "rtn", "jlcm.vectorLength", "2"), false).contains("rtn has no vector codebooks"));
        Assert.assertTrue(error(Map.of("jlcm.steps", "10"), false).contains("only jlcm learns"));
        Assert.assertTrue(error(Map.of("jlcm.method", "jlcm"), false).contains("calibration"));
        Assert.assertTrue(error(Map.of("jlcm.method", "kmeans"), true).contains("only used by jlcm"));
        Assert.assertTrue(error(Map.of("jlcm.calibrationBatch", "4"), false).contains("jlcm.calibration"));
        Assert.assertTrue(error(Map.of("jlcm.calibration", "c.ndlist"), true).contains("one way"));
    }

    @Test
    public void builderChecksValuesEarlyAndKeysBetweenThemAtLoad() {
        IllegalArgumentException e =
                Assert.expectThrows(
                        IllegalArgumentException.class,
                        () -> CompressingBlockFactory.builder().optBits(9).build());
        Assert.assertTrue(e.getMessage().contains("jlcm.bits=9 (set on CompressingBlockFactory.Builder)"), e.getMessage());
        // steps alone is fine in Java: the calibration may come from the model directory
        CompressingBlockFactory.builder().optSteps(5).build();
    }

    @Test
    public void defaultCacheDirFollowsTheProjectCache() {
        String old = System.getProperty("jlcm.cache");
        try {
            System.setProperty("jlcm.cache", "some-cache");
            Assert.assertEquals(LoadConfig.defaultCacheDir(), Paths.get("some-cache", "compressed"));
            System.clearProperty("jlcm.cache");
            Path d = LoadConfig.defaultCacheDir();
            if (System.getenv("JLCM_CACHE") == null) {
                Assert.assertEquals(d, Paths.get(System.getProperty("user.home"), ".cache", "jlcm", "compressed"));
            }
        } finally {
            if (old == null) {
                System.clearProperty("jlcm.cache");
            } else {
                System.setProperty("jlcm.cache", old);
            }
        }
    }

    @Test
    public void canonicalFormIgnoresRunTimeSettings() {
        LoadConfig a = parse(Map.of("jlcm.bits", "3", "jlcm.cacheDir", "a", "jlcm.memoryMode", "fp32"));
        LoadConfig b = parse(Map.of("jlcm.bits", "3", "jlcm.cacheDir", "b"));
        Assert.assertEquals(a.canonical(), b.canonical());
        Assert.assertNotEquals(parse(Map.of("jlcm.bits", "2")).canonical(), b.canonical());
    }

    /** The jlcm.* keys parse into the plan one would build in Java. */
    @Test
    public void keysParseIntoTheSamePlan() {
        Map<String, String> v = new HashMap<>();
        v.put("jlcm.bits", "2");
        v.put("jlcm.groups", "8");
        v.put("jlcm.mode", "scaled");
        v.put("jlcm.layers", "linear");
        v.put("jlcm.include", "Linear");
        v.put("jlcm.exclude", "06");
        v.put("jlcm.minWeights", "100");
        CompressionPlan expected =
                CompressionPlan.builder()
                        .optDefaults(
                                LayerSettings.builder()
                                        .optMethod(Method.KMEANS)
                                        .optBits(2)
                                        .optGroups(8)
                                        .optMode(CodebookMode.SCALED)
                                        .optMinWeights(100)
                                        .optSkip(true)
                                        .build())
                        .optLayerTypes(Set.of(Linear.class))
                        .optForPath("Linear", LayerSettings.builder().optSkip(false).build())
                        .optForPath("06", LayerSettings.builder().optSkip(true).build())
                        .build();
        Assert.assertEquals(parse(v).plan, expected);
        LoadConfig jlcm = LoadConfig.parse(Map.of("jlcm.steps", "30", "jlcm.seed", "7"), null, true, k -> "x", null);
        Assert.assertEquals(
                jlcm.plan, CompressionPlan.of(LayerSettings.builder().optMethod(Method.JLCM).optSteps(30).optSeed(7).build()));
    }

    /** A builder's plan applies over the keys, and a changed plan changes the cache key. */
    @Test
    public void aBuilderPlanWinsOverTheKeysAndEnterTheKey() {
        CompressionPlan head =
                CompressionPlan.builder().optForPath("^06Linear$", LayerSettings.builder().optBits(5).build()).build();
        LoadConfig c = LoadConfig.parse(Map.of("jlcm.bits", "2"), head, false, k -> "x", null);
        Linear layer = Linear.builder().setUnits(1).build();
        Assert.assertEquals(c.plan.resolve("04Linear", layer).getBits(), 2);
        Assert.assertEquals(c.plan.resolve("06Linear", layer).getBits(), 5);
        String keysOnly = parse(Map.of("jlcm.bits", "2")).canonical();
        Assert.assertNotEquals(c.canonical(), keysOnly);
        CompressionPlan learned = CompressionPlan.of(LayerSettings.builder().optMethod(Method.JLCM).optLearningRates(1e-3f, 1e-3f, 0.05f).build());
        Assert.assertNotEquals(
                LoadConfig.parse(Map.of(), learned, true, k -> "x", null).canonical(),
                LoadConfig.parse(Map.of(), null, true, k -> "x", null).canonical(),
                "every learning setting is in the key");
        String m = error(Map.of(), CompressionPlan.of(LayerSettings.builder().optMethod(Method.JLCM).build()), false);
        Assert.assertTrue(m.contains("optPlan") && m.contains("calibration"), m);
    }
}
