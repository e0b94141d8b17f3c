package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Convolution;

import java.util.List;

/** The importance of each weight element: the mean squared input it multiplies. */
final class Importance {

    private Importance() {}

    /**
     * Importance for a linear layer: the mean of each input feature's square, repeated per neuron.
     *
     * @param inputs input batches, last axis the features
     * @param weightShape {@code [O, N]}
     * @return one value per weight element, row-major
     */
    static float[] linear(List<NDArray> inputs, Shape weightShape) {
        return repeatPerNeuron(inputColumns(inputs, weightShape.get(1)), weightShape);
    }

    /**
     * The mean of each input feature's square, the importance of every weight in that column.
     *
     * @param inputs input batches, last axis the features
     * @param cols the features
     * @return one value per feature
     */
    static float[] inputColumns(List<NDArray> inputs, long cols) {
        double[] sum = new double[(int) cols];
        long rows = 0;
        for (NDArray x : inputs) {
            NDArray flat = x.reshape(-1, cols);
            float[] s = flat.square().sum(new int[] {0}).toFloatArray();
            for (int i = 0; i < s.length; i++) {
                sum[i] += s[i];
            }
            rows += flat.getShape().get(0);
        }
        float[] out = new float[(int) cols];
        for (int n = 0; n < cols; n++) {
            out[n] = (float) (sum[n] / rows);
        }
        return out;
    }

    /**
     * Repeats per-column importance for every neuron of a linear layer.
     *
     * @param columns one value per input feature
     * @param weightShape {@code [O, N]}
     * @return one value per weight element, row-major
     */
    static float[] repeatPerNeuron(float[] columns, Shape weightShape) {
        int cols = columns.length;
        float[] out = new float[Math.toIntExact(weightShape.size())];
        for (int o = 0; o < weightShape.get(0); o++) {
            System.arraycopy(columns, 0, out, o * cols, cols);
        }
        return out;
    }

    /**
     * Importance for a convolution: the mean square of each input channel, spread over the kernel
     * positions of each filter that reads it.
     *
     * @param inputs input batches {@code [B, C, …]}
     * @param layer the convolution (for its channel groups)
     * @param weightShape {@code [filters, C/groups, kernel…]}
     * @return one value per weight element, row-major
     */
    static float[] convolution(List<NDArray> inputs, Convolution layer, Shape weightShape) {
        long channels = inputs.get(0).getShape().get(1);
        double[] sum = new double[(int) channels];
        long count = 0;
        for (NDArray x : inputs) {
            NDArray perChannel = x.swapAxes(0, 1).reshape(channels, -1);
            float[] s = perChannel.square().sum(new int[] {1}).toFloatArray();
            for (int i = 0; i < s.length; i++) {
                sum[i] += s[i];
            }
            count += perChannel.getShape().get(1);
        }
        long filters = weightShape.get(0);
        long channelsPerGroup = weightShape.get(1);
        long kernel = weightShape.size() / (filters * channelsPerGroup);
        long filtersPerGroup = filters / layer.getGroups();
        float[] out = new float[Math.toIntExact(weightShape.size())];
        int p = 0;
        for (long o = 0; o < filters; o++) {
            long first = (o / filtersPerGroup) * channelsPerGroup;
            for (long c = 0; c < channelsPerGroup; c++) {
                float v = (float) (sum[(int) (first + c)] / count);
                for (long k = 0; k < kernel; k++) {
                    out[p++] = v;
                }
            }
        }
        return out;
    }
}
