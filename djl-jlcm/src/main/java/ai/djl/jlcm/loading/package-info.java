/**
 * Compression as part of ordinary DJL model loading: a {@code BlockFactory} that compresses a float
 * model while DJL loads it, configured by a builder, Criteria arguments or {@code jlcm.*} keys of the
 * model directory's {@code serving.properties}, with a cache of compressed model directories.
 */
package ai.djl.jlcm.loading;
