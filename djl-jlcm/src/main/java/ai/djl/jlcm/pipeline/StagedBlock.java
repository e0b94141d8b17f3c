package ai.djl.jlcm.pipeline;

import java.util.List;

/**
 * A block that exposes its forward pass as a chain of stages, for compression stage by stage: running
 * the stages in order on the block's inputs gives the block's outputs. A {@code SequentialBlock}'s
 * children are its stages without this interface; other models (BERT, decoder LLMs) implement it.
 */
public interface StagedBlock {

    /**
     * Returns the stages in order. Their paths are relative to this block, and each selected layer
     * must be owned by exactly one stage.
     *
     * @return the stages
     */
    List<Stage> stages();
}
