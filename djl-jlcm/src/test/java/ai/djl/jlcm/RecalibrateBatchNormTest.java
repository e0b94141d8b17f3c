package ai.djl.jlcm;

import ai.djl.Model;
import ai.djl.jlcm.learn.BatchNormStatistics;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.ArrayList;
import java.util.List;

public class RecalibrateBatchNormTest {

    /** With the option, the running statistics after JLCM are those of the compressed network. */
    @Test
    public void jlcmReestimatesBatchNormAfterCompressing() {
        try (Model model = Model.newInstance("bn", "PyTorch");
                NDManager data = NDManager.newBaseManager()) {
            model.setBlock(
                    new SequentialBlock()
                            .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(6).build())
                            .add(BatchNorm.builder().build())
                            .add(Activation.reluBlock())
                            .add(Blocks.batchFlattenBlock())
                            .add(Linear.builder().setUnits(10).build()));
            data.getEngine().setRandomSeed(2);
            model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 8, 8));
            List<NDList> calibration = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                calibration.add(new NDList(data.randomNormal(1f, 2f, new Shape(8, 1, 8, 8), DataType.FLOAT32)));
            }
            Jlcm.builder().optBits(2).optSteps(5).optRecalibrateBatchNorm(true).optDeterministic(true).build()
                    .compress(model, calibration);
            Block bn = model.getBlock().getChildren().get(1).getValue();
            float[] mean = bn.getDirectParameters().get("runningMean").getArray().toFloatArray();
            float[] var = bn.getDirectParameters().get("runningVar").getArray().toFloatArray();
            Assert.assertNotEquals(mean, new float[mean.length], "not the initial zeros");
            BatchNormStatistics.reestimate(model.getBlock(), calibration, data);
            Assert.assertEquals(bn.getDirectParameters().get("runningMean").getArray().toFloatArray(), mean, 1e-6f);
            Assert.assertEquals(bn.getDirectParameters().get("runningVar").getArray().toFloatArray(), var, 1e-5f);
        }
    }
}
