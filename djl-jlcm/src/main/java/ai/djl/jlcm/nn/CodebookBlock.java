package ai.djl.jlcm.nn;

import ai.djl.nn.Block;

/** A block whose weight is held in grouped-codebook form. */
public interface CodebookBlock extends Block {

    /**
     * Returns the compressed weight parameters of this block.
     *
     * @return the codebook weight
     */
    CodebookWeight getCodebookWeight();

    /**
     * Returns the name of the layer this block replaced (its path in the block tree), used in
     * messages.
     *
     * @return the layer name
     */
    String getLayerName();

    /**
     * Returns whether this block has a bias.
     *
     * @return whether a bias is present
     */
    boolean hasBias();
}
