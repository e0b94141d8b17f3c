package ai.djl.jlcm.examples.zoo;

import ai.djl.Model;
import ai.djl.basicmodelzoo.cv.classification.ResNetV1;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;

import java.nio.file.Path;
import java.util.Map;

/** Builds DJL model-zoo ResNetV1-20 for 1×28×28 images and 10 classes (used at load time too). */
public class ResNet20Factory implements BlockFactory {

    private static final long serialVersionUID = 1L;

    /** Creates the factory. */
    public ResNet20Factory() {}

    /**
     * Builds a new, uninitialized ResNetV1-20.
     *
     * @return the block
     */
    public static Block build() {
        return ResNetV1.builder().setImageShape(new Shape(1, 28, 28)).setNumLayers(20).setOutSize(10).build();
    }

    /** {@inheritDoc} */
    @Override
    public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) {
        return build();
    }
}
