/** A model as a chain of stages, the unit that compression walks and streams activations through. */
package ai.djl.jlcm.pipeline;
