package ai.djl.jlcm.examples.mnist;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;

/**
 * A small CNN for 1×28×28 images with 10 classes, built only from {@link SequentialBlock}, {@link
 * Conv2d}, {@link Activation#reluBlock()}, {@link Blocks#batchFlattenBlock()} and {@link Linear}
 * (no pooling, no normalization, no custom lambdas), so its architecture can be serialized.
 *
 * <p>Layout: Conv2d 16×5×5 stride 2 pad 2 → ReLU → Conv2d 32×3×3 stride 2 pad 1 → ReLU → flatten
 * (32·7·7 = 1568) → Linear 128 → ReLU → Linear 10 (logits). 207 178 parameters.
 */
public final class MnistCnn {

    /** Number of output classes. */
    public static final int NUM_CLASSES = 10;

    /** Input shape of one image: channels, height, width. */
    public static final Shape IMAGE_SHAPE = new Shape(1, 28, 28);

    private MnistCnn() {}

    /**
     * Builds a new, uninitialized network.
     *
     * @return the network, mapping (B, 1, 28, 28) to logits (B, 10)
     */
    public static SequentialBlock build() {
        return new SequentialBlock()
                .add(
                        Conv2d.builder()
                                .setFilters(16)
                                .setKernelShape(new Shape(5, 5))
                                .optStride(new Shape(2, 2))
                                .optPadding(new Shape(2, 2))
                                .build())
                .add(Activation.reluBlock())
                .add(
                        Conv2d.builder()
                                .setFilters(32)
                                .setKernelShape(new Shape(3, 3))
                                .optStride(new Shape(2, 2))
                                .optPadding(new Shape(1, 1))
                                .build())
                .add(Activation.reluBlock())
                .add(Blocks.batchFlattenBlock())
                .add(Linear.builder().setUnits(128).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(NUM_CLASSES).build());
    }
}
