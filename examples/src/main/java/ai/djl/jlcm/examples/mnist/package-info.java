/** A small MNIST CNN for the examples: architecture, seeded training, caching and evaluation. */
package ai.djl.jlcm.examples.mnist;
