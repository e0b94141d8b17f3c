/**
 * Grouped-codebook blocks ({@link ai.djl.jlcm.nn.CodebookLinear}, {@link
 * ai.djl.jlcm.nn.CodebookConvolution}) and the compressed-weight representation they share.
 */
package ai.djl.jlcm.nn;
