package ai.djl.jlcm.examples.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.LambdaBlock;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.util.ArrayList;
import java.util.List;

public class MlmEvaluationTest {

    @Test
    public void scoresTopOneAndPseudoPerplexity() {
        // vocabulary of 4; the stub puts logit 2 on token (position mod 4) and 0 elsewhere
        List<MlmProtocol.MaskedSequence> data = new ArrayList<>();
        for (int k = 0; k < 3; k++) {
            int[] ids = new int[6];
            int[] positions = {1, 2};
            int[] labels = {1, 3}; // position 1 predicts 1 (right), position 2 predicts 2 (wrong)
            data.add(new MlmProtocol.MaskedSequence(ids, positions, labels, "s" + k));
        }
        LambdaBlock stub =
                new LambdaBlock(
                        in -> {
                            NDArray pos = in.get(3);
                            NDArray oneHot = pos.toType(ai.djl.ndarray.types.DataType.INT32, false).oneHot(4);
                            return new NDList(oneHot.mul(2f));
                        });
        try (NDManager m = NDManager.newBaseManager()) {
            MlmEvaluation.Result r = MlmEvaluation.evaluate(stub, m, data, 2);
            Assert.assertEquals(r.sequences(), 3);
            Assert.assertEquals(r.maskedTokens(), 6);
            Assert.assertEquals(r.correct(), 3);
            Assert.assertEquals(r.top1(), 0.5, 1e-12);
            double z = Math.log(Math.exp(2) + 3);
            double right = z - 2;
            double wrong = z;
            Assert.assertEquals(r.meanNll(), (right + wrong) / 2, 1e-6);
            Assert.assertEquals(r.pseudoPerplexity(), Math.exp((right + wrong) / 2), 1e-5);
            Assert.expectThrows(IllegalArgumentException.class, () -> MlmEvaluation.evaluate(stub, m, data, 0));
            Assert.expectThrows(IllegalArgumentException.class, () -> MlmEvaluation.evaluate(stub, m, List.of(), 1));
            Assert.assertEquals(MlmEvaluation.inputs(m, data, true).get(3).getShape(), new Shape(3, 2));
        }
    }
}
