package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.LambdaBlock;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

public class CalibrationPassTest {

    private static List<NDList> batches(NDManager m, int count) {
        List<NDList> batches = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            batches.add(new NDList(m.randomNormal(new Shape(8, 6))));
        }
        return batches;
    }

    /** first -> relu -> (left | right, same input) concatenated -> counter. */
    private static SequentialBlock net(AtomicInteger tailCalls) {
        return new SequentialBlock()
                .add(Linear.builder().setUnits(5).build())
                .add(Activation.reluBlock())
                .add(new ParallelBlock(
                        list -> new NDList(NDArrays.concat(new NDList(list.get(0).head(), list.get(1).head()), 1)),
                        List.of(Linear.builder().setUnits(4).build(), Linear.builder().setUnits(3).build())))
                .add(new LambdaBlock(x -> {
                    tailCalls.incrementAndGet();
                    return x;
                }));
    }

    @Test
    public void laterBatchesStopOnceTheLayerWasRecordedAndRecordTheSameInputs() {
        AtomicInteger tail = new AtomicInteger();
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock net = net(tail);
            net.initialize(m, DataType.FLOAT32, new Shape(1, 6));
            tail.set(0); // initialization runs the lambda for its output shape
            List<NDList> data = batches(m, 5);
            List<NDArray> recorded = SequentialCompressor.record(net, "01Linear", net, data, m);

            Assert.assertEquals(tail.get(), 1, "only the first batch runs past the recorded layer");
            Assert.assertEquals(recorded.size(), 5);
            for (int i = 0; i < data.size(); i++) {
                Assert.assertEquals(recorded.get(i).toFloatArray(), data.get(i).head().toFloatArray());
            }
            Assert.assertEquals(net.getChildren().valueAt(0).getClass(), Linear.class, "the layer is back");
        }
    }

    @Test
    public void layersFedTheSameArraysAreFoundAndOthersAreNot() {
        AtomicInteger tail = new AtomicInteger();
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock net = net(tail);
            net.initialize(m, DataType.FLOAT32, new Shape(1, 6));
            tail.set(0); // initialization runs the lambda for its output shape
            List<NDList> data = batches(m, 3);
            List<String> paths = List.of("03ParallelBlock/01Linear", "03ParallelBlock/02Linear", "01Linear");
            CalibrationPass pass = CalibrationPass.ofLayers(net, paths, net, data, m);

            Assert.assertTrue(pass.sharesInputs(1), "both branches of the parallel block get the same input");
            Assert.assertFalse(pass.sharesInputs(2), "the first layer gets the network input");
            Assert.assertEquals(tail.get(), 1);
            ParameterStore ps = new ParameterStore(m, false);
            for (int i = 0; i < data.size(); i++) {
                NDList x = data.get(i);
                for (int b = 0; b < 2; b++) {
                    x = net.getChildren().valueAt(b).forward(ps, x, false);
                }
                Assert.assertEquals(pass.recordedArrays().get(i).toFloatArray(), x.head().toFloatArray());
            }
        }
    }

    /** Calls its child once per pair of rows: how often depends on the batch's shape. */
    private static final class PerPair extends ai.djl.nn.AbstractBlock {
        private final ai.djl.nn.Block child;

        PerPair(ai.djl.nn.Block child) {
            this.child = addChildBlock("Linear", child);
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, ai.djl.util.PairList<String, Object> params) {
            NDArray x = inputs.head();
            NDList parts = new NDList();
            for (long r = 0; r < x.getShape().get(0); r += 2) {
                parts.add(child.forward(ps, new NDList(x.get(r + ":" + (r + 2))), training).head());
            }
            return new NDList(NDArrays.concat(parts));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return child.getOutputShapes(inputShapes);
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            child.initialize(manager, dataType, inputShapes);
        }
    }

    /** A batch of another shape than the first may call the layer more often: it is not cut short. */
    @Test
    public void batchesOfAnotherShapeRunWhole() {
        try (NDManager m = NDManager.newBaseManager()) {
            PerPair net = new PerPair(Linear.builder().setUnits(3).build());
            net.initialize(m, DataType.FLOAT32, new Shape(2, 6));
            List<NDList> data = new ArrayList<>();
            for (int rows : new int[] {2, 6, 4, 2}) {
                data.add(new NDList(m.randomNormal(new Shape(rows, 6))));
            }
            List<NDArray> recorded = SequentialCompressor.record(net, "01Linear", net, data, m);
            Assert.assertEquals(recorded.size(), 1 + 3 + 2 + 1, "every call of every batch is recorded");
            Assert.assertEquals(recorded.get(3).toFloatArray(), data.get(1).head().get("4:6").toFloatArray());
        }
    }
}
