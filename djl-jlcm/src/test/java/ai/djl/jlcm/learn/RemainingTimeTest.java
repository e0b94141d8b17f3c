package ai.djl.jlcm.learn;

import org.testng.Assert;
import org.testng.annotations.Test;

public class RemainingTimeTest {

    @Test
    public void layersOfAFixedAndAPerWeightCostArePredictedExactly() {
        RemainingTime t = new RemainingTime();
        // 2 s a layer plus 1 s per million weights
        t.add(400, 2.0004);
        t.add(4_608, 2.004608);
        t.add(200_704, 2.200704);
        Assert.assertEquals(t.estimate(1, 1_280), 2.00128, 1e-9);
        Assert.assertEquals(t.estimate(10, 2_000_000), 22.0, 1e-6);
    }

    @Test
    public void aSmallFirstLayerDoesNotPredictHours() {
        // the MNIST CNN's log before: a 400-weight first layer in 16.7 s gave "ETA 8609 s"
        RemainingTime t = new RemainingTime();
        Assert.assertTrue(Double.isNaN(t.estimate(3, 206_000)), "no layer done");
        t.add(400, 16.7);
        Assert.assertTrue(Double.isNaN(t.estimate(3, 206_000)), "one layer: per-layer and per-weight costs are not told apart");
        t.add(4_608, 11.1);
        // the two layers left hold 100 K weights on average: 20 times the largest done
        Assert.assertTrue(Double.isNaN(t.estimate(2, 201_984)), "extrapolated from small layers");
        // a second layer slower than the first: the per-weight part is negative, so the fit falls back
        // to the mean time per layer
        Assert.assertEquals(t.estimate(2, 8_000), 2 * (16.7 + 11.1) / 2, 1e-9);
        t.add(200_704, 20.4);
        // least squares through the three: 13.849 s a layer + 32.3 µs a weight
        Assert.assertEquals(t.estimate(1, 1_280), 13.8909, 1e-3);
    }

    @Test
    public void layersOfOneSizeGiveNoEstimate() {
        RemainingTime t = new RemainingTime();
        t.add(1_000, 1);
        t.add(1_000, 1.2);
        Assert.assertTrue(Double.isNaN(t.estimate(5, 1_000_000)));
        Assert.assertEquals(t.estimate(0, 0), 0.0);
    }

    @Test
    public void aNegativeFixedPartFallsBackToTimePerWeight() {
        RemainingTime t = new RemainingTime();
        t.add(1_000, 0.5);
        t.add(3_000, 3);
        // the line through both points crosses zero time at 1 400 weights: proportional fit instead
        double perWeight = (1_000 * 0.5 + 3_000 * 3.0) / (1e6 + 9e6);
        Assert.assertEquals(t.estimate(2, 6_000), perWeight * 6_000, 1e-12);
        Assert.assertEquals(RemainingTime.format(Double.NaN), "ETA unknown");
        Assert.assertEquals(RemainingTime.format(12.4), "ETA 12 s");
    }
}
