/** The compression plan: per-layer settings (method, bits, groups, learning knobs) resolved by layer type and path. */
package ai.djl.jlcm.plan;
