package ai.djl.jlcm.examples.zoo;

import ai.djl.jlcm.examples.mnist.MnistCnn;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;

import java.util.Locale;

/** The architectures of the {@code zoo} command. */
public enum ZooArchitecture {
    /** Flatten → 256 → ReLU → 128 → ReLU → 10. */
    MLP("mlp", null),
    /** The LeNet-style {@link MnistCnn}. */
    LENET("lenet", null),
    /** DJL model-zoo ResNetV1-20. */
    RESNET("resnet", ResNet20Factory.class.getName()),
    /** DJL model-zoo MobileNetV2. */
    MOBILENETV2("mobilenetv2", MobileNetV2Factory.class.getName());

    private final String label;
    private final String factory;

    ZooArchitecture(String label, String factory) {
        this.label = label;
        this.factory = factory;
    }

    /**
     * The command-line name.
     *
     * @return the name
     */
    public String label() {
        return label;
    }

    /**
     * The architecture factory class for export, {@code null} when the manifest describes the tree.
     *
     * @return the class name or null
     */
    public String factory() {
        return factory;
    }

    /**
     * Builds a new, uninitialized block mapping N×1×28×28 to N×10 logits.
     *
     * @return the block
     */
    public Block build() {
        switch (this) {
            case MLP:
                return mlp();
            case LENET:
                return MnistCnn.build();
            case RESNET:
                return ResNet20Factory.build();
            case MOBILENETV2:
                return MobileNetV2Factory.build();
            default:
                throw new AssertionError(this);
        }
    }

    /**
     * The MLP.
     *
     * @return a new, uninitialized MLP
     */
    public static SequentialBlock mlp() {
        return new SequentialBlock()
                .add(Blocks.batchFlattenBlock())
                .add(Linear.builder().setUnits(256).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(128).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(MnistCnn.NUM_CLASSES).build());
    }

    /**
     * Parses a command-line name.
     *
     * @param name the name, case-insensitive
     * @return the architecture
     * @throws IllegalArgumentException if unknown
     */
    public static ZooArchitecture of(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (ZooArchitecture a : values()) {
            if (a.label.equals(n)) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown model '" + name + "', expected mlp, lenet, resnet or mobilenetv2");
    }
}
