/**
 * Offline-friendly data inputs: registry fetching with sha256 checks, IDX parsing, MNIST datasets.
 */
package ai.djl.jlcm.examples.data;
