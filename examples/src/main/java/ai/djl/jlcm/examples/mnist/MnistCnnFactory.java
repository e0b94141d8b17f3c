package ai.djl.jlcm.examples.mnist;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;

import java.nio.file.Path;
import java.util.Map;

/**
 * Builds the uninitialized {@link MnistCnn} when DJL loads a float model directory whose {@code
 * serving.properties} names this class (the demo's cached float model).
 */
public class MnistCnnFactory implements BlockFactory {

    private static final long serialVersionUID = 1L;

    /** Creates the factory. */
    public MnistCnnFactory() {}

    /** {@inheritDoc} */
    @Override
    public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) {
        return MnistCnn.build();
    }
}
