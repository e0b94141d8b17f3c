/**
 * Joint learning of codebooks, scales and mappings on calibration data: input capture, reconstruction
 * losses, the optimizer and the mapping updates (PROXIMAL, STE, SOFT, FROZEN, NEIGHBOURS).
 */
package ai.djl.jlcm.learn;
