package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Convolution;

/**
 * The input patches of a convolution (im2col, PyTorch's {@code nn.Unfold}), computed by the engine's
 * own convolution with one-hot kernels, so that kernel, stride, padding and dilation are applied
 * exactly as the layer applies them.
 */
final class ConvolutionPatches {

    private ConvolutionPatches() {}

    /**
     * Unfolds a convolution's input: row {@code c·K + j} of a sample holds input channel {@code c}
     * under kernel offset {@code j} (row-major over the kernel's {@code K} positions) at each output
     * position, the column order of the layer's weight flattened to {@code [filters, C/groups·K]}.
     *
     * @param x the input {@code [B, C, …]}
     * @param layer the convolution
     * @return the patches {@code [B, C·K, L]}, L the number of output positions
     */
    static NDArray unfold(NDArray x, Convolution layer) {
        Shape kernel = layer.getKernelShape();
        int k = Math.toIntExact(kernel.size());
        long channels = x.getShape().get(1);
        // filter c·K + j of a depthwise convolution: 1 at kernel offset j
        float[] oneHot = new float[Math.toIntExact(channels * k * k)];
        for (int i = 0; i < channels * k; i++) {
            oneHot[i * k + i % k] = 1;
        }
        try (NDArray kernels = x.getManager().create(oneHot, new Shape(channels * k, 1).addAll(kernel))) {
            NDArray patches =
                    x.getNDArrayInternal()
                            .convolution(x, kernels, null, layer.getStride(), layer.getPadding(), layer.getDilation(), (int) channels)
                            .singletonOrThrow();
            NDArray flat = patches.reshape(x.getShape().get(0), channels * k, -1);
            patches.close();
            return flat;
        }
    }

    /**
     * Returns the Gram matrix of the unfolded inputs of each channel group, {@code PᵀP / n} over the
     * n patches of all samples, for the filters of that group.
     *
     * @param x the inputs {@code [B, C, …]}
     * @param layer the convolution
     * @param chunk how many samples to unfold at a time
     * @return {@code groups} row-major {@code [C/groups·K]²} matrices
     */
    static double[][] grams(NDArray x, Convolution layer, long chunk) {
        int groups = layer.getGroups();
        long samples = x.getShape().get(0);
        double[][] grams = null;
        long n = 0;
        for (long from = 0; from < samples; from += chunk) {
            try (NDManager m = x.getManager().newSubManager()) {
                NDArray part = x.get(from + ":" + Math.min(samples, from + chunk));
                part.attach(m);
                NDArray p = unfold(part, layer);
                long b = p.getShape().get(0);
                long cols = p.getShape().get(1) / groups;
                long positions = p.getShape().get(2);
                // [B, G·cols, L] → [G, cols, B·L]
                NDArray byGroup = p.reshape(b, groups, cols, positions).transpose(1, 2, 0, 3).reshape(groups, cols, b * positions);
                float[] g = byGroup.matMul(byGroup.transpose(0, 2, 1)).toFloatArray();
                int size = (int) (cols * cols);
                if (grams == null) {
                    grams = new double[groups][size];
                }
                for (int i = 0; i < groups; i++) {
                    for (int j = 0; j < size; j++) {
                        grams[i][j] += g[i * size + j];
                    }
                }
                n += b * positions;
            }
        }
        for (double[] g : grams) {
            for (int j = 0; j < g.length; j++) {
                g[j] /= n;
            }
        }
        return grams;
    }
}
