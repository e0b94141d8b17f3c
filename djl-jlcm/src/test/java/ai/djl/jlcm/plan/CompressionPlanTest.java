package ai.djl.jlcm.plan;

import ai.djl.jlcm.learn.MappingUpdate;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;

public class CompressionPlanTest {

    private static final Block LINEAR = Linear.builder().setUnits(4).build();
    private static final Block CONV = Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(4).build();

    private static LayerSettings bits(int bits) {
        return LayerSettings.builder().optBits(bits).build();
    }

    @Test
    public void pathRulesWinOverTypeRulesWhichWinOverDefaults() {
        CompressionPlan plan =
                CompressionPlan.builder()
                        .optDefaults(LayerSettings.builder().optMethod(Method.JLCM).optBits(2).build())
                        .optForPath("b", bits(5))
                        .optForType(Linear.class, LayerSettings.builder().optBits(3).optGroups(16).build())
                        .optForPath("^b$", bits(6))
                        .optForType(Linear.class, LayerSettings.builder().optGroups(8).build())
                        .build();
        LayerSettings convA = plan.resolve("a", CONV);
        Assert.assertEquals(convA.getBits(), 2, "defaults");
        Assert.assertEquals(convA.getGroups(), 4, "library default");
        Assert.assertEquals(convA.getMethod(), Method.JLCM);
        LayerSettings linearA = plan.resolve("a", LINEAR);
        Assert.assertEquals(linearA.getBits(), 3, "type over defaults");
        Assert.assertEquals(linearA.getGroups(), 8, "the later type rule wins");
        LayerSettings linearB = plan.resolve("b", LINEAR);
        Assert.assertEquals(linearB.getBits(), 6, "path over type, the later path rule wins, whatever the order of kinds");
        Assert.assertEquals(linearB.getGroups(), 8, "a path rule overrides only what it sets");
        Assert.assertEquals(plan.resolve("xb", LINEAR).getBits(), 5, "patterns are searched in the path");
        Assert.assertEquals(plan.resolve("b", CONV).getBits(), 6);
        Assert.assertTrue(linearB.isComplete());
        Assert.assertEquals(linearB.getMapping(), MappingUpdate.PROXIMAL);
        Assert.assertEquals(linearB.getDampening(), 0.01f);
    }

    @Test
    public void theLibraryHasOneDefaultOfFourBits() {
        LayerSettings d = CompressionPlan.builder().build().resolve("x", LINEAR);
        Assert.assertEquals(d, LayerSettings.defaults());
        Assert.assertEquals(d.getBits(), LayerSettings.DEFAULT_BITS);
        Assert.assertEquals(LayerSettings.DEFAULT_BITS, 4);
        Assert.assertEquals(d.getMethod(), Method.KMEANS);
        Assert.assertFalse(CompressionPlan.builder().build().usesCalibration());
    }

    @Test
    public void everySettingRuleAndLayerTypeChangesTheCanonicalText() {
        List<UnaryOperator<LayerSettings.Builder>> changes =
                List.of(
                        b -> b.optMethod(Method.RTN),
                        b -> b.optBits(3),
                        b -> b.optVectorLength(2),
                        b -> b.optGroups(5),
                        b -> b.optMode(CodebookMode.SCALED),
                        b -> b.optMapping(MappingUpdate.STE),
                        b -> b.optSteps(7),
                        b -> b.optLearningRates(2e-3f, 1e-3f, 0.02f),
                        b -> b.optLearningRates(1e-3f, 2e-3f, 0.02f),
                        b -> b.optLearningRates(1e-3f, 1e-3f, 0.03f),
                        b -> b.optEdgePhi(0.5f),
                        b -> b.optPhiOnStep(false),
                        b -> b.optSoftTemperature(0.25f),
                        b -> b.optNeighbourMoves(2),
                        b -> b.optDampening(0.1f),
                        b -> b.optSeed(3),
                        b -> b.optMinWeights(10),
                        b -> b.optSkip(true));
        Set<String> texts = new HashSet<>();
        CompressionPlan base = CompressionPlan.builder().build();
        texts.add(base.toString());
        for (UnaryOperator<LayerSettings.Builder> change : changes) {
            texts.add(CompressionPlan.of(change.apply(LayerSettings.defaults().toBuilder()).build()).toString());
        }
        Assert.assertEquals(texts.size(), changes.size() + 1, texts.toString());
        // a partial default that restates a library default is the same plan
        Assert.assertEquals(CompressionPlan.of(bits(LayerSettings.DEFAULT_BITS)), base);
        List<CompressionPlan> others =
                List.of(
                        base.toBuilder().optForType(Linear.class, bits(2)).build(),
                        base.toBuilder().optForType(Conv2d.class, bits(2)).build(),
                        base.toBuilder().optForPath("a", bits(2)).build(),
                        base.toBuilder().optForPath("b", bits(2)).build(),
                        base.toBuilder().optForPath("a", bits(3)).build(),
                        base.toBuilder().optLayerTypes(Set.of(Linear.class)).build());
        for (CompressionPlan p : others) {
            Assert.assertTrue(texts.add(p.toString()), p.toString());
        }
    }

    @Test
    public void vectorCodebooksResolveToFrozenMappingsAndRefuseWhatTheyCannotStore() {
        CompressionPlan jlcm = CompressionPlan.of(LayerSettings.builder().optMethod(Method.JLCM).optBits(2).optVectorLength(4).build());
        LayerSettings s = jlcm.resolve("a", LINEAR);
        Assert.assertEquals(s.getMapping(), MappingUpdate.FROZEN, "an unset mapping is frozen for vectors");
        Assert.assertEquals(s.getIndexBits(), 8);
        Assert.assertEquals(jlcm.resolve("a", LINEAR, 1).getIndexBits(), 4);
        IllegalArgumentException wide = Assert.expectThrows(IllegalArgumentException.class, () -> jlcm.resolve("a", LINEAR, 3));
        Assert.assertTrue(wide.getMessage().contains("12-bit indices"), wide.getMessage());
        CompressionPlan proximal = jlcm.toBuilder().optDefaults(LayerSettings.builder().optMethod(Method.JLCM).optBits(2).optVectorLength(4)
                .optMapping(MappingUpdate.PROXIMAL).build()).build();
        IllegalArgumentException mapping = Assert.expectThrows(IllegalArgumentException.class, () -> proximal.resolve("a", LINEAR));
        Assert.assertTrue(mapping.getMessage().contains("frozen mappings only, not proximal"), mapping.getMessage());
        CompressionPlan rtn = CompressionPlan.of(LayerSettings.builder().optMethod(Method.RTN).optVectorLength(2).build());
        IllegalArgumentException method = Assert.expectThrows(IllegalArgumentException.class, () -> rtn.resolve("a", LINEAR));
        Assert.assertTrue(method.getMessage().contains("need method kmeans, jlcm or gptq-codebook, not rtn"), method.getMessage());
        // k-means ignores mappings; scalar codebooks keep the library's default mapping
        Assert.assertEquals(CompressionPlan.of(LayerSettings.builder().optVectorLength(2).optBits(2).build()).resolve("a", LINEAR).getVectorLength(), 2);
        Assert.assertEquals(CompressionPlan.builder().build().resolve("a", LINEAR).getMapping(), MappingUpdate.PROXIMAL);
        Assert.expectThrows(IllegalArgumentException.class, () -> LayerSettings.builder().optVectorLength(0));
        Assert.expectThrows(IllegalArgumentException.class, () -> LayerSettings.builder().optVectorLength(9));
    }

    @Test
    public void jlcmAtOneBitIsScaledUnlessTheModeIsSet() {
        CompressionPlan unset = CompressionPlan.of(LayerSettings.builder().optMethod(Method.JLCM).optBits(1).build());
        Assert.assertEquals(unset.resolve("a", LINEAR).getMode(), CodebookMode.SCALED);
        Assert.assertEquals(unset.resolve("a", LINEAR, 2).getMode(), CodebookMode.MULTI);
        Assert.assertEquals(CompressionPlan.of(LayerSettings.builder().optMethod(Method.JLCM).optBits(2).build()).resolve("a", LINEAR, 1).getMode(),
                CodebookMode.SCALED, "the width of an allocation's rule counts");
        Assert.assertEquals(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optBits(1).build()).resolve("a", LINEAR).getMode(),
                CodebookMode.MULTI, "data-free k-means keeps a codebook per group");

        CompressionPlan multi = CompressionPlan.of(LayerSettings.builder().optMethod(Method.JLCM).optBits(1).optMode(CodebookMode.MULTI).build());
        Assert.assertEquals(multi.resolve("a", LINEAR).getMode(), CodebookMode.MULTI);
        CompressionPlan byRule = unset.toBuilder().optForPath("^b$", LayerSettings.builder().optMode(CodebookMode.MULTI).build()).build();
        Assert.assertEquals(byRule.resolve("b", LINEAR).getMode(), CodebookMode.MULTI);
        Assert.assertEquals(byRule.resolve("a", LINEAR).getMode(), CodebookMode.SCALED);
        // a plan that sets MULTI resolves otherwise at 1 bit: its canonical text (cache and checkpoint keys) differs
        Assert.assertNotEquals(unset.toString(), multi.toString());
        Assert.assertNotEquals(unset, multi);
        Assert.assertEquals(unset.resolvedDefaults().getMode(), multi.resolvedDefaults().getMode());
    }

    @Test
    public void skippedLayersAndLayerTypes() {
        CompressionPlan plan =
                CompressionPlan.builder()
                        .optLayerTypes(Set.of(Linear.class))
                        .optForPath("^head$", LayerSettings.builder().optSkip(true).build())
                        .build();
        Assert.assertTrue(plan.isCandidate(LINEAR));
        Assert.assertFalse(plan.isCandidate(CONV));
        Assert.assertTrue(plan.resolve("head", LINEAR).isSkip());
        Assert.assertFalse(plan.resolve("body/head", LINEAR).isSkip());
        IllegalArgumentException e =
                Assert.expectThrows(IllegalArgumentException.class, () -> CompressionPlan.builder().optForPath("(", bits(2)));
        Assert.assertTrue(e.getMessage().contains("not a regular expression"), e.getMessage());
        Assert.expectThrows(IllegalArgumentException.class, () -> CompressionPlan.builder().optLayerTypes(Set.of()));
    }

    @Test
    public void settingsAreCheckedWhenSet() {
        Assert.expectThrows(IllegalArgumentException.class, () -> LayerSettings.builder().optBits(0));
        Assert.expectThrows(IllegalArgumentException.class, () -> LayerSettings.builder().optBits(9));
        Assert.expectThrows(IllegalArgumentException.class, () -> LayerSettings.builder().optGroups(0));
        Assert.expectThrows(IllegalArgumentException.class, () -> LayerSettings.builder().optSteps(-1));
        Assert.expectThrows(IllegalArgumentException.class, () -> LayerSettings.builder().optEdgePhi(2));
        Assert.expectThrows(IllegalArgumentException.class, () -> LayerSettings.builder().optSoftTemperature(0));
        Assert.expectThrows(IllegalArgumentException.class, () -> LayerSettings.builder().optNeighbourMoves(0));
        Assert.expectThrows(IllegalArgumentException.class, () -> LayerSettings.builder().optNeighbourMoves(65));
        Assert.expectThrows(IllegalArgumentException.class, () -> LayerSettings.builder().optDampening(-1));
        Assert.expectThrows(IllegalArgumentException.class, () -> LayerSettings.builder().optMinWeights(-1));
        Assert.expectThrows(IllegalStateException.class, () -> bits(2).getGroups());
    }

    @Test
    public void defaultMethodsCalibrationAndMerging() {
        CompressionPlan noMethod = CompressionPlan.of(bits(2));
        Assert.assertEquals(noMethod.withDefaultMethod(Method.JLCM).resolvedDefaults().getMethod(), Method.JLCM);
        CompressionPlan rtn = CompressionPlan.of(LayerSettings.builder().optMethod(Method.RTN).build());
        Assert.assertEquals(rtn.withDefaultMethod(Method.JLCM), rtn, "a method set by the plan stays");
        CompressionPlan gptqHead =
                rtn.toBuilder().optForPath("head", LayerSettings.builder().optMethod(Method.GPTQ).build()).build();
        Assert.assertTrue(gptqHead.usesCalibration(), "a rule's calibrated method counts");
        Assert.assertFalse(rtn.usesCalibration());

        CompressionPlan keys =
                CompressionPlan.builder()
                        .optDefaults(LayerSettings.builder().optBits(2).optGroups(8).build())
                        .optForPath("a", bits(3))
                        .build();
        CompressionPlan over =
                CompressionPlan.builder()
                        .optDefaults(bits(5))
                        .optForPath("a", LayerSettings.builder().optGroups(2).build())
                        .optLayerTypes(Set.of(Linear.class))
                        .build();
        CompressionPlan merged = keys.overriddenBy(over);
        Assert.assertEquals(merged.resolve("b", LINEAR).getBits(), 5);
        Assert.assertEquals(merged.resolve("b", LINEAR).getGroups(), 8);
        Assert.assertEquals(merged.resolve("a", LINEAR).getBits(), 3);
        Assert.assertEquals(merged.resolve("a", LINEAR).getGroups(), 2);
        Assert.assertEquals(merged.getLayerTypes(), Set.of(Linear.class));
    }

    @Test
    public void methodLabels() {
        for (Method m : Method.values()) {
            Assert.assertEquals(Method.fromLabel(m.label().toUpperCase(java.util.Locale.ROOT)), m);
        }
        Assert.assertEquals(Method.GPTQ_CODEBOOK.label(), "gptq-codebook");
        Assert.expectThrows(IllegalArgumentException.class, () -> Method.fromLabel("dkm"));
    }
}
