/** The {@code zoo} command: several architectures trained on MNIST-like data, compressed and measured. */
package ai.djl.jlcm.examples.zoo;
