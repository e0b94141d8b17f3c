/** Distribution-based grouping of output neurons, so that each group can share one codebook. */
package ai.djl.jlcm.grouping;
