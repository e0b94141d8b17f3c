package ai.djl.jlcm.examples.zoo;

import ai.djl.Model;
import ai.djl.basicmodelzoo.cv.classification.MobileNetV2;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;

import java.nio.file.Path;
import java.util.Map;

/** Builds DJL model-zoo MobileNetV2 with 10 outputs (used at load time too). */
public class MobileNetV2Factory implements BlockFactory {

    private static final long serialVersionUID = 1L;

    /** Creates the factory. */
    public MobileNetV2Factory() {}

    /**
     * Builds a new, uninitialized MobileNetV2.
     *
     * @return the block
     */
    public static Block build() {
        return MobileNetV2.builder().setOutSize(10).build();
    }

    /** {@inheritDoc} */
    @Override
    public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) {
        return build();
    }
}
