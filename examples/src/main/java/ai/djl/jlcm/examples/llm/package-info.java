/**
 * Llama-family decoder LLMs built from DJL blocks, loaded from Hugging Face safetensors checkpoints,
 * and the {@code jlcm llm} commands.
 */
package ai.djl.jlcm.examples.llm;
