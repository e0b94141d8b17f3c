package ai.djl.jlcm.it;

import ai.djl.basicmodelzoo.cv.classification.MobileNetV1;
import ai.djl.basicmodelzoo.cv.classification.MobileNetV2;
import ai.djl.basicmodelzoo.cv.classification.ResNetV1;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.jlcm.transform.TransformReport;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.nn.transformer.BertBlock;
import ai.djl.nn.transformer.TransformerEncoderBlock;
import ai.djl.training.ParameterStore;

import org.testng.Assert;
import org.testng.annotations.DataProvider;
import org.testng.annotations.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * 8-bit compression of DJL model-zoo and transformer blocks: every Linear and convolution is
 * replaced, and the output stays within a tolerance derived from the bits.
 */
public class ZooBlocksTest {

    private static final int BITS = 8;

    /** The seed of the random weights and inputs. */
    private static final int SEED = 20261129;

    /**
     * Relative output error allowed at {@code BITS} bits. Each layer's relative weight error is of
     * order 2^-b (checked exactly per layer below); through tens of randomly initialized layers
     * these add up and grow, so the end-to-end bound allows a factor of 32 on top.
     */
    private static final double TOLERANCE = 32.0 / (1 << BITS);

    @DataProvider
    public Object[][] models() {
        Shape image = new Shape(2, 1, 28, 28);
        return new Object[][] {
            {"ResNetV1-20", (Function<NDManager, Block>) m -> ResNetV1.builder().setImageShape(new Shape(1, 28, 28)).setNumLayers(20).setOutSize(10).build(), new Shape[] {image}},
            {"MobileNetV1", (Function<NDManager, Block>) m -> MobileNetV1.builder().setOutSize(10).build(), new Shape[] {new Shape(2, 3, 32, 32)}},
            {"MobileNetV2", (Function<NDManager, Block>) m -> MobileNetV2.builder().setOutSize(10).build(), new Shape[] {new Shape(2, 3, 32, 32)}},
            {"TransformerEncoderBlock", (Function<NDManager, Block>) m -> new TransformerEncoderBlock(32, 4, 64, 0f, Activation::gelu), new Shape[] {new Shape(2, 8, 32)}},
        };
    }

    @Test(dataProvider = "models")
    public void eightBitOutputsStayClose(String name, Function<NDManager, Block> factory, Shape[] shapes) {
        try (NDManager m = NDManager.newBaseManager()) {
            // the end-to-end error of a randomly initialized network varies with its draw: fix the draw
            m.getEngine().setRandomSeed(SEED);
            Block block = factory.apply(m);
            block.initialize(m, DataType.FLOAT32, shapes);
            NDList input = new NDList();
            for (Shape s : shapes) {
                input.add(m.randomNormal(s));
            }
            assertCompressedClose(name, block, input, m);
        }
    }

    @Test
    public void bertBlock() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(SEED);
            BertBlock bert =
                    BertBlock.builder().micro().setTokenDictionarySize(100).optMaxSequenceLength(16).build();
            Shape s = new Shape(2, 16);
            bert.initialize(m, DataType.FLOAT32, s, s, s);
            NDList input =
                    new NDList(
                            m.randomInteger(0, 100, s, DataType.INT64),
                            m.zeros(s, DataType.INT64),
                            m.ones(s, DataType.INT64));
            assertCompressedClose("BertBlock", bert, input, m);
        }
    }

    private static void assertCompressedClose(String name, Block block, NDList input, NDManager m) {
        long dense = countDense(block);
        Map<String, float[]> weights = new HashMap<>();
        BlockTree.of(block).blocks().forEach((path, b) -> {
            if (b instanceof Linear || b instanceof Convolution) {
                weights.put(path, b.getDirectParameters().get("weight").getArray().toFloatArray());
            }
        });
        float[] before = forward(block, input, m);
        TransformReport report =
                CodebookTransformer.builder()
                        .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(1).build()))
                        .optBits(BITS)
                        .build()
                        .transform(block);
        Assert.assertEquals(report.layers().size(), dense, name + ": every layer is replaced");
        Assert.assertEquals(countDense(block), 0, name + ": no dense layer is left");
        // Per layer: the RMS error of an optimal k-means codebook is at most that of the uniform
        // grid over the weights' range, whose error is at most half a step.
        BlockTree.of(block).blocks().forEach((path, b) -> {
            if (b instanceof CodebookBlock) {
                float[] w = weights.get(path);
                float[] q = ((CodebookBlock) b).getCodebookWeight().read().decode();
                float min = Float.POSITIVE_INFINITY;
                float max = Float.NEGATIVE_INFINITY;
                double se = 0;
                for (int i = 0; i < w.length; i++) {
                    min = Math.min(min, w[i]);
                    max = Math.max(max, w[i]);
                    se += (w[i] - q[i]) * (double) (w[i] - q[i]);
                }
                double halfStep = (max - min) / ((1 << BITS) - 1) / 2.0;
                Assert.assertTrue(Math.sqrt(se / w.length) <= halfStep, name + " " + path);
            }
        });
        float[] after = forward(block, input, m);
        double err = 0;
        double norm = 0;
        for (int i = 0; i < before.length; i++) {
            err += (after[i] - before[i]) * (double) (after[i] - before[i]);
            norm += before[i] * (double) before[i];
        }
        double rel = Math.sqrt(err / norm);
        Assert.assertTrue(rel < TOLERANCE, name + ": relative error " + rel);
    }

    private static long countDense(Block block) {
        return BlockTree.of(block).blocks().values().stream()
                .filter(b -> !(b instanceof CodebookBlock))
                .filter(b -> b instanceof Linear || b instanceof Convolution)
                .count();
    }

    private static float[] forward(Block block, NDList input, NDManager m) {
        try (NDManager sub = m.newSubManager()) {
            NDList out = block.forward(new ParameterStore(sub, false), input, false);
            return out.get(0).toType(DataType.FLOAT32, false).toFloatArray();
        }
    }
}
