/** Walking a DJL block tree, selecting layers and replacing them with codebook blocks safely. */
package ai.djl.jlcm.transform;
