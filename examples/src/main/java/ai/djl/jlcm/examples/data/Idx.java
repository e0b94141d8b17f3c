package ai.djl.jlcm.examples.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Reader for IDX files (the MNIST file format), plain or gzipped.
 *
 * <p>Layout: big-endian int32 magic ({@value #IMAGE_MAGIC} for images, {@value #LABEL_MAGIC} for
 * labels), int32 count, for images int32 rows and int32 cols, then the uint8 values row-major. Gzip
 * is detected from the file's first two bytes, not from its name.
 */
public final class Idx {

    /** Magic number of an IDX file of uint8 images (3 dimensions). */
    public static final int IMAGE_MAGIC = 2051;

    /** Magic number of an IDX file of uint8 labels (1 dimension). */
    public static final int LABEL_MAGIC = 2049;

    private Idx() {}

    /**
     * Images read from an IDX file.
     *
     * @param count the number of images
     * @param rows the rows of each image
     * @param cols the columns of each image
     * @param pixels {@code count * rows * cols} unsigned bytes, row-major
     */
    public record Images(int count, int rows, int cols, byte[] pixels) {

        /**
         * Returns the pixels as floats scaled to [0, 1].
         *
         * @return a new array of {@code count * rows * cols} floats
         */
        public float[] toFloats() {
            float[] out = new float[pixels.length];
            for (int i = 0; i < pixels.length; i++) {
                out[i] = (pixels[i] & 0xFF) / 255f;
            }
            return out;
        }
    }

    /**
     * Reads an IDX image file.
     *
     * @param file the file, plain or gzipped
     * @return the images
     * @throws IOException if the file cannot be read or is not a valid IDX image file
     */
    public static Images readImages(Path file) throws IOException {
        try (DataInputStream in = open(file)) {
            int magic = readHeaderInt(in, file, "magic");
            if (magic != IMAGE_MAGIC) {
                throw new IOException(
                        "Not an IDX image file: "
                                + file
                                + " has magic "
                                + magic
                                + ", expected "
                                + IMAGE_MAGIC);
            }
            int count = readHeaderInt(in, file, "count");
            int rows = readHeaderInt(in, file, "rows");
            int cols = readHeaderInt(in, file, "cols");
            if (count < 0 || rows <= 0 || cols <= 0) {
                throw new IOException(
                        "Bad IDX image header in "
                                + file
                                + ": count="
                                + count
                                + ", rows="
                                + rows
                                + ", cols="
                                + cols);
            }
            long size = (long) count * rows * cols;
            if (size > Integer.MAX_VALUE - 16) {
                throw new IOException(
                        "IDX image file too large: " + file + " (" + size + " bytes)");
            }
            byte[] pixels = readBody(in, file, (int) size);
            return new Images(count, rows, cols, pixels);
        }
    }

    /**
     * Reads an IDX label file.
     *
     * @param file the file, plain or gzipped
     * @return the labels as unsigned bytes (use {@code & 0xFF})
     * @throws IOException if the file cannot be read or is not a valid IDX label file
     */
    public static byte[] readLabels(Path file) throws IOException {
        try (DataInputStream in = open(file)) {
            int magic = readHeaderInt(in, file, "magic");
            if (magic != LABEL_MAGIC) {
                throw new IOException(
                        "Not an IDX label file: "
                                + file
                                + " has magic "
                                + magic
                                + ", expected "
                                + LABEL_MAGIC);
            }
            int count = readHeaderInt(in, file, "count");
            if (count < 0) {
                throw new IOException("Bad IDX label header in " + file + ": count=" + count);
            }
            return readBody(in, file, count);
        }
    }

    private static DataInputStream open(Path file) throws IOException {
        InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        try {
            raw.mark(2);
            int b0 = raw.read();
            int b1 = raw.read();
            raw.reset();
            if (b0 == 0x1f && b1 == 0x8b) {
                raw = new BufferedInputStream(new GZIPInputStream(raw, 1 << 16), 1 << 16);
            }
            return new DataInputStream(raw);
        } catch (IOException e) {
            raw.close();
            throw new IOException("Cannot read IDX file " + file + ": " + e.getMessage(), e);
        }
    }

    private static int readHeaderInt(DataInputStream in, Path file, String field)
            throws IOException {
        try {
            return in.readInt();
        } catch (EOFException e) {
            throw new IOException("Truncated IDX header in " + file + " (no " + field + ")", e);
        }
    }

    private static byte[] readBody(DataInputStream in, Path file, int size) throws IOException {
        byte[] data = new byte[size];
        int off = 0;
        while (off < size) {
            int n = in.read(data, off, size - off);
            if (n < 0) {
                throw new IOException(
                        "Truncated IDX file "
                                + file
                                + ": expected "
                                + size
                                + " data bytes, found "
                                + off);
            }
            off += n;
        }
        if (in.read() >= 0) {
            throw new IOException(
                    "IDX file " + file + " has trailing bytes after " + size + " data bytes");
        }
        return data;
    }
}
