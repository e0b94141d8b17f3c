/**
 * Compressed model directories: atomic writing, the manifest, the {@code BlockFactory} that rebuilds
 * the block tree at load time, and size accounting.
 */
package ai.djl.jlcm.export;
