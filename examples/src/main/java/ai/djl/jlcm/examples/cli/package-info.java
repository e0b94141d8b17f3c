/** The {@code jlcm} command line: {@code demo} and {@code inspect}. */
package ai.djl.jlcm.examples.cli;
