package ai.djl.jlcm.codebook;

import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.CompressedWeight;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.ndarray.types.Shape;

/**
 * Round-to-nearest: per output channel, {@code 2^bits} evenly spaced levels spanning the channel's
 * minimum and maximum, with an integer zero point so that 0 is a level ({@link
 * UniformCodebook#levels}). Stored as one codebook per channel (MULTI mode with one group per
 * channel), so its stored size counts {@code 2^bits} floats per channel rather than a scale and a zero point.
 */
public final class RtnQuantizer implements WeightQuantizer {

    /** {@inheritDoc} Reads the settings' bits only. */
    @Override
    public CompressedWeight quantize(float[] weight, Shape shape, LayerSettings settings) {
        int bits = settings.getBits();
        int rows = Math.toIntExact(shape.get(0));
        int cols = Math.toIntExact(shape.size() / rows);
        int k = 1 << bits;
        float[] codebooks = new float[rows * k];
        int[] indices = new int[weight.length];
        int[] groupOf = new int[rows];
        float[] row = new float[cols];
        for (int o = 0; o < rows; o++) {
            System.arraycopy(weight, o * cols, row, 0, cols);
            float min = Float.POSITIVE_INFINITY;
            float max = Float.NEGATIVE_INFINITY;
            for (float v : row) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            float[] levels = UniformCodebook.levels(min, max, k);
            System.arraycopy(levels, 0, codebooks, o * k, k);
            for (int n = 0; n < cols; n++) {
                indices[o * cols + n] = KMeans1d.nearest(row[n], levels);
            }
            groupOf[o] = o;
        }
        return new CompressedWeight(
                shape, bits, CodebookMode.MULTI, rows, groupOf, codebooks, null, indices);
    }

    /** {@inheritDoc} */
    @Override
    public String name() {
        return "rtn";
    }
}
