package ai.djl.jlcm.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/**
 * JLCM's proximal weighting of latent moves. For a move of a latent in direction {@code d} (the sign
 * of the descent step), the candidate codeword is the neighbour of the current one in that direction,
 * at distance Δ; the move is weighted by {@code φ(Δ/Δ̄) = exp(−Δ/Δ̄)}, Δ̄ being the codebook's mean
 * spacing, and by {@code edgePhi} where no neighbour exists. Mappings are kept within one codeword of
 * where they were.
 */
final class ProximalStep {

    private static final float FAR = 1e30f;

    private ProximalStep() {}

    /**
     * Returns φ for each weight.
     *
     * @param rows the codebook of each neuron, {@code [O, K]}, ascending
     * @param index the current mapping, INT64 {@code [O, N]}
     * @param descent the direction the latent would move: positive for up, negative for down
     * @param edgePhi φ where no neighbour exists in that direction
     * @return φ, {@code [O, N]}
     */
    static NDArray phi(NDArray rows, NDArray index, NDArray descent, float edgePhi) {
        long k = rows.getShape().get(1);
        NDArray padded = pad(rows);
        NDArray at = padded.gather(index.add(2), 1);
        NDArray below = padded.gather(index.add(1), 1);
        NDArray above = padded.gather(index.add(3), 1);
        NDArray spacing = rows.get(":, -1:").sub(rows.get(":, 0:1")).div((float) (k - 1)).maximum(1e-12f);
        NDArray up = descent.gt(0);
        NDArray distance = NDArrays.where(up, above.sub(at), at.sub(below));
        NDArray atEdge = NDArrays.where(up, index.eq(k - 1), index.eq(0));
        NDArray phi = distance.div(spacing).neg().exp();
        return NDArrays.where(atEdge, phi.onesLike().mul(edgePhi), phi);
    }

    /**
     * Returns the proximal gradient of the latents: {@code G · φ(Δ/Δ̄)}, the candidate move being the
     * descent direction {@code −sign(G)}.
     *
     * @param gradient the straight-through gradient G of the latents, {@code [O, N]}
     * @param rows the codebook of each neuron, {@code [O, K]}, ascending
     * @param index the current mapping, INT64 {@code [O, N]}
     * @param edgePhi φ where no neighbour exists in the descent direction
     * @return the proximal gradient
     */
    static NDArray gradient(NDArray gradient, NDArray rows, NDArray index, float edgePhi) {
        return gradient.mul(phi(rows, index, gradient.neg(), edgePhi));
    }

    /**
     * Clamps latents so that their nearest codeword is at most one away from {@code index}.
     *
     * @param rows the codebook of each neuron, {@code [O, K]}, ascending
     * @param index the mapping before the step, INT64 {@code [O, N]}
     * @param latent the latents after the step, {@code [O, N]}
     * @return the clamped latents
     */
    static NDArray clampToNeighbours(NDArray rows, NDArray index, NDArray latent) {
        NDArray padded = pad(rows);
        // cell of codeword I-1 starts at mid(c[I-2], c[I-1]); cell of I+1 ends at mid(c[I+1], c[I+2])
        NDArray lower = padded.gather(index, 1).add(padded.gather(index.add(1), 1)).div(2f);
        NDArray upper = padded.gather(index.add(3), 1).add(padded.gather(index.add(4), 1)).div(2f);
        float margin = 1e-6f;
        return latent.maximum(lower.add(margin)).minimum(upper.sub(margin));
    }

    /** Pads each row with two far-away codewords on each side (index {@code i} becomes {@code i + 2}). */
    static NDArray pad(NDArray rows) {
        NDManager m = rows.getManager();
        long o = rows.getShape().get(0);
        NDArray low = m.full(new ai.djl.ndarray.types.Shape(o, 2), -FAR, DataType.FLOAT32);
        NDArray high = m.full(new ai.djl.ndarray.types.Shape(o, 2), FAR, DataType.FLOAT32);
        return low.concat(rows, 1).concat(high, 1);
    }
}
