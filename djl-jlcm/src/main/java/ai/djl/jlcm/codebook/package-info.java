/** Codebook construction: 1-D k-means, uniform (RTN) codebooks and sub-byte index packing. */
package ai.djl.jlcm.codebook;
