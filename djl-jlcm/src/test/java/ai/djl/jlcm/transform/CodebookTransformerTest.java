package ai.djl.jlcm.transform;

import ai.djl.jlcm.nn.CodebookConvolution;
import ai.djl.jlcm.nn.CodebookLinear;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

public class CodebookTransformerTest {

    /** A parent that holds children in a field, a List and an array, like attention blocks do. */
    static final class FieldParent extends AbstractBlock {
        final Linear direct;
        final List<Linear> list = new ArrayList<>();
        final Linear[] array = new Linear[1];

        FieldParent(Linear shared) {
            direct = addChildBlock("direct", Linear.builder().setUnits(8).build());
            list.add(addChildBlock("listed", Linear.builder().setUnits(8).build()));
            array[0] = addChildBlock("arrayed", Linear.builder().setUnits(8).build());
            addChildBlock("shared", shared);
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            NDList x = direct.forward(ps, inputs, training);
            x = list.get(0).forward(ps, x, training);
            x = array[0].forward(ps, x, training);
            return getChildren().valueAt(3).forward(ps, x, training);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputs) {
            return new Shape[] {new Shape(inputs[0].get(0), 8)};
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputs) {
            Shape s = inputs[0];
            for (Block b : getChildren().values()) {
                b.initialize(manager, dataType, s);
                s = b.getOutputShapes(new Shape[] {s})[0];
            }
        }
    }

    private static SequentialBlock network(Linear shared) {
        SequentialBlock inner = new SequentialBlock().add(new FieldParent(shared)).add(Activation.reluBlock());
        return new SequentialBlock()
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(4).optPadding(new Shape(1, 1)).build())
                .add(BatchNorm.builder().build())
                .add(Activation.reluBlock())
                .add(Blocks.batchFlattenBlock())
                .add(Linear.builder().setUnits(8).build())
                .add(inner)
                .add(shared);
    }

    private static float[] run(Block block, NDManager m, NDArray x) {
        return block.forward(new ParameterStore(m, false), new NDList(x), false).singletonOrThrow().toFloatArray();
    }

    @Test
    public void replacesEveryLayerKeepingKeysFieldsAndSharing() {
        try (NDManager m = NDManager.newBaseManager()) {
            Linear shared = Linear.builder().setUnits(8).build();
            SequentialBlock net = network(shared);
            net.setInitializer(new NormalInitializer(0.3f), ai.djl.nn.Parameter.Type.WEIGHT);
            net.initialize(m, DataType.FLOAT32, new Shape(2, 1, 5, 5));
            NDArray x = m.randomNormal(new Shape(2, 1, 5, 5));
            float[] before = run(net, m, x);
            List<String> keysBefore = new ArrayList<>(BlockTree.of(net).blocks().keySet());

            TransformReport report =
                    CodebookTransformer.builder()
                            .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(1).build()))
                            .optBits(8)
                            .build()
                            .transform(net);

            // conv, linear, three field-held linears, and the shared linear once
            Assert.assertEquals(report.layers().size(), 6);
            ReplacedLayer sharedLayer = report.layers().get(report.layers().size() - 1);
            Assert.assertEquals(sharedLayer.places(), 2);
            Assert.assertEquals(new ArrayList<>(BlockTree.of(net).blocks().keySet()), keysBefore);
            Assert.assertTrue(net.getChildren().valueAt(0) instanceof CodebookConvolution);
            FieldParent parent =
                    (FieldParent) ((SequentialBlock) net.getChildren().valueAt(5)).getChildren().valueAt(0);
            Assert.assertTrue(parent.direct instanceof CodebookLinear);
            Assert.assertTrue(parent.list.get(0) instanceof CodebookLinear);
            Assert.assertTrue(parent.array[0] instanceof CodebookLinear);
            Assert.assertSame(parent.getChildren().valueAt(3), net.getChildren().valueAt(6));

            float[] after = run(net, m, x);
            double err = 0;
            double norm = 0;
            for (int i = 0; i < before.length; i++) {
                err += (after[i] - before[i]) * (after[i] - before[i]);
                norm += before[i] * before[i];
            }
            // 8-bit codebooks: relative output error well under 2^-8 times a small depth factor
            Assert.assertTrue(Math.sqrt(err / norm) < 16.0 / 256, "relative error " + Math.sqrt(err / norm));
            Assert.assertEquals(report.bitsPerWeight(), (double) report.storedBits() / report.weights());
            Assert.assertTrue(report.bitsPerWeight() > 8);
        }
    }

    @Test
    public void selectionByPathTypeSizeAndPerLayerBits() {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock net = network(Linear.builder().setUnits(8).build());
            net.initialize(m, DataType.FLOAT32, new Shape(2, 1, 5, 5));
            TransformReport report =
                    CodebookTransformer.builder()
                            .optPlan(
                                    CompressionPlan.builder()
                                            .optDefaults(LayerSettings.builder().optMethod(Method.RTN).optBits(4).optMinWeights(64).build())
                                            .optLayerTypes(Set.of(Linear.class))
                                            .optForPath("^06", LayerSettings.builder().optSkip(true).build())
                                            .optForPath("^05Linear$", LayerSettings.builder().optBits(2).build())
                                            .build())
                            .build()
                            .transform(net);
            // the shared linear is first met inside 06…, so the filter leaves it dense too
            Assert.assertEquals(report.layers().size(), 1);
            Assert.assertEquals(report.layers().get(0).path(), "05Linear");
            Assert.assertEquals(report.layers().get(0).bits(), 2);
            Assert.assertTrue(net.getChildren().valueAt(0) instanceof Conv2d);
            Assert.assertTrue(net.getChildren().valueAt(4) instanceof CodebookLinear);
            Assert.assertFalse(net.getChildren().valueAt(6) instanceof CodebookLinear);
        }
    }

    @Test
    public void badInputLeavesTheTreeUnchanged() {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock net = network(Linear.builder().setUnits(8).build());
            net.initialize(m, DataType.FLOAT32, new Shape(2, 1, 5, 5));
            // poison one weight of the last layer: everything before it must stay dense
            NDArray w = net.getChildren().valueAt(6).getDirectParameters().get("weight").getArray();
            w.set(new ai.djl.ndarray.index.NDIndex("0, 0"), Float.NaN);
            CodebookTransformer t =
                    CodebookTransformer.builder().optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.RTN).build())).optBits(3).build();
            IllegalArgumentException e = Assert.expectThrows(IllegalArgumentException.class, () -> t.transform(net));
            Assert.assertTrue(e.getMessage().contains("01FieldParent/04shared"), e.getMessage());
            Assert.assertTrue(e.getMessage().contains("NaN"), e.getMessage());
            for (Block b : BlockTree.of(net).blocks().values()) {
                Assert.assertFalse(b instanceof CodebookLinear || b instanceof CodebookConvolution);
            }
        }
    }

    @Test
    public void uninitializedBlocksAndBadSettingsAreRejected() {
        SequentialBlock net = network(Linear.builder().setUnits(8).build());
        CodebookTransformer t = CodebookTransformer.builder().optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.RTN).build())).build();
        IllegalArgumentException e = Assert.expectThrows(IllegalArgumentException.class, () -> t.transform(net));
        Assert.assertTrue(e.getMessage().contains("not initialized"), e.getMessage());
        Assert.expectThrows(
                IllegalArgumentException.class,
                () -> CodebookTransformer.builder().optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.RTN).build())).optBits(0).build());
        Assert.expectThrows(
                IllegalArgumentException.class,
                () -> CodebookTransformer.builder().optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.RTN).build())).optBits(9).build());
        e =
                Assert.expectThrows(
                        IllegalArgumentException.class,
                        () ->
                                CompressionPlan.builder().optLayerTypes(Set.of(BatchNorm.class)).build());
        Assert.assertTrue(e.getMessage().contains("BatchNorm"), e.getMessage());
    }
}
