/** Per-layer bit allocation: the widths that minimize a predicted loss within a whole-model size target. */
package ai.djl.jlcm.allocation;
