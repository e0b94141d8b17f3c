package ai.djl.jlcm.examples.mnist;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.XavierInitializer;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.List;

public class MnistCnnTest {

    @Test
    public void outputShapeAndParameterCount() {
        try (NDManager manager = NDManager.newBaseManager()) {
            SequentialBlock block = MnistCnn.build();
            block.setInitializer(new XavierInitializer(), ai.djl.nn.Parameter.Type.WEIGHT);
            block.initialize(manager, DataType.FLOAT32, new Shape(1, 1, 28, 28));

            Shape[] out = block.getOutputShapes(new Shape[] {new Shape(5, 1, 28, 28)});
            Assert.assertEquals(out[0], new Shape(5, 10));

            NDArray x = manager.randomUniform(0f, 1f, new Shape(7, 1, 28, 28));
            NDArray y =
                    block.forward(new ParameterStore(manager, false), new NDList(x), false).head();
            Assert.assertEquals(y.getShape(), new Shape(7, 10));
            Assert.assertEquals(y.getDataType(), DataType.FLOAT32);
            Assert.assertTrue(Float.isFinite(y.sum().getFloat()));

            long params =
                    block.getParameters().values().stream()
                            .mapToLong(p -> p.getArray().size())
                            .sum();
            // conv 16*1*5*5+16, conv 32*16*3*3+32, linear 1568*128+128, linear 128*10+10
            Assert.assertEquals(params, 416L + 4640 + 200_832 + 1290);
        }
    }

    @Test
    public void usesOnlySerializableBlocks() {
        List<Block> children = MnistCnn.build().getChildren().values();
        Assert.assertEquals(children.size(), 8);
        Assert.assertTrue(children.get(0) instanceof Conv2d);
        Assert.assertTrue(children.get(2) instanceof Conv2d);
        Assert.assertTrue(children.get(5) instanceof Linear);
        Assert.assertTrue(children.get(7) instanceof Linear);
        Conv2d first = (Conv2d) children.get(0);
        Assert.assertEquals(first.getStride(), new Shape(2, 2));
        Assert.assertEquals(first.getPadding(), new Shape(2, 2));
        Assert.assertEquals(first.getKernelShape(), new Shape(5, 5));
        Assert.assertEquals(first.getFilters(), 16);
    }
}
