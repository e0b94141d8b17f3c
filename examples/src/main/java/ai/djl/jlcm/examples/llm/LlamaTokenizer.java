package ai.djl.jlcm.examples.llm;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The text side of a checkpoint: its Hugging Face {@code tokenizer.json}, read by DJL's tokenizers
 * binding (whose native library ships in its jar), turning a prompt into token ids and ids back
 * into text.
 */
public final class LlamaTokenizer implements AutoCloseable {

    /** The file name of a checkpoint's tokenizer. */
    public static final String FILE_NAME = "tokenizer.json";

    private final HuggingFaceTokenizer tokenizer;
    private final int vocabSize;

    private LlamaTokenizer(HuggingFaceTokenizer tokenizer, int vocabSize) {
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
    }

    /**
     * Opens a tokenizer.
     *
     * @param file the {@code tokenizer.json}
     * @param vocabSize the model's vocabulary size: every id the tokenizer gives must be below it
     * @return the tokenizer; close it
     * @throws IOException if the file is missing or not a tokenizer
     */
    public static LlamaTokenizer open(Path file, int vocabSize) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("No tokenizer at " + file + " (give --tokenizer FILE, or --tokens as ids)");
        }
        try {
            return new LlamaTokenizer(HuggingFaceTokenizer.newInstance(file), vocabSize);
        } catch (RuntimeException e) {
            throw new IOException(file + " is not a tokenizer.json the Hugging Face tokenizers library reads: " + e.getMessage(), e);
        }
    }

    /**
     * Encodes a text as the tokenizer does, special tokens included.
     *
     * @param text the text
     * @return its token ids
     * @throws IllegalArgumentException if the text has no tokens, or an id is outside the model's
     *     vocabulary
     */
    public int[] encode(String text) {
        Encoding e = tokenizer.encode(text);
        long[] ids = e.getIds();
        if (ids.length == 0) {
            throw new IllegalArgumentException("the prompt '" + text + "' has no tokens");
        }
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabSize) {
                throw new IllegalArgumentException(
                        "the tokenizer gives id " + ids[i] + " for the prompt, outside the model's vocabulary of " + vocabSize);
            }
            out[i] = (int) ids[i];
        }
        return out;
    }

    /**
     * Decodes token ids into text.
     *
     * @param ids the ids
     * @return the text
     */
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer.decode(l);
    }

    /** {@inheritDoc} */
    @Override
    public void close() {
        tokenizer.close();
    }
}
