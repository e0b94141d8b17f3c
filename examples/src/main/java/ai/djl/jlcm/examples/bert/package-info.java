/**
 * Pretrained BERT-base (uncased) with its masked-LM head as a DJL block tree: TensorFlow tensor
 * bundle reading, checkpoint mapping, tokenization, the Brown-corpus MLM protocol and the {@code
 * jlcm bert} command.
 */
package ai.djl.jlcm.examples.bert;
