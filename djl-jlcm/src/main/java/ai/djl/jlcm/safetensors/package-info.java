/**
 * Reading and writing Hugging Face safetensors checkpoints (single files and sharded directories),
 * memory-mapped and one tensor at a time.
 */
package ai.djl.jlcm.safetensors;
