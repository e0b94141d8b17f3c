package ai.djl.jlcm.safetensors;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Writes one {@code .safetensors} file as a stream: the tensors are declared first (the header
 * needs every offset), then their values are appended in declaration order, in pieces of any size,
 * so that no tensor has to be held whole. The header is padded with spaces to a multiple of 8 bytes,
 * as the reference writer does.
 */
public final class SafetensorsWriter implements AutoCloseable {

    /**
     * A tensor to write.
     *
     * @param name its name
     * @param dtype the stored element type
     * @param shape its shape
     */
    public record Spec(String name, SafetensorsDtype dtype, long[] shape) {

        /**
         * Creates the specification.
         *
         * @param name the name
         * @param dtype the element type
         * @param shape the shape
         */
        public Spec {
            shape = shape.clone();
        }

        /**
         * Returns the shape.
         *
         * @return a copy of the shape
         */
        @Override
        public long[] shape() {
            return shape.clone();
        }

        /**
         * Returns the stored size.
         *
         * @return bytes of the tensor's data
         */
        public long bytes() {
            return TensorInfo.elementCount(shape) * dtype.bytes();
        }
    }

    private final Path file;
    private final OutputStream out;
    private final List<Spec> specs;
    private final ByteBuffer buffer = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    private int current;
    private long remaining;

    private SafetensorsWriter(Path file, OutputStream out, List<Spec> specs) {
        this.file = file;
        this.out = out;
        this.specs = specs;
        remaining = specs.isEmpty() ? 0 : TensorInfo.elementCount(specs.get(0).shape());
        skipEmpty();
    }

    /**
     * Creates a file (which must not exist) and writes its header.
     *
     * @param file the file
     * @param tensors the tensors, in the order their values will be written
     * @param metadata the {@code __metadata__} entries (none if empty)
     * @return the writer; write every tensor's values, then close it
     * @throws IOException if the file exists or cannot be written
     * @throws IllegalArgumentException if two tensors have one name
     */
    public static SafetensorsWriter create(Path file, List<Spec> tensors, Map<String, String> metadata)
            throws IOException {
        JsonObject header = new JsonObject();
        if (!metadata.isEmpty()) {
            JsonObject meta = new JsonObject();
            metadata.forEach(meta::addProperty);
            header.add("__metadata__", meta);
        }
        long offset = 0;
        for (Spec s : tensors) {
            if (header.has(s.name())) {
                throw new IllegalArgumentException("tensor '" + s.name() + "' is declared twice for " + file);
            }
            JsonObject t = new JsonObject();
            t.addProperty("dtype", s.dtype().name());
            JsonArray shape = new JsonArray();
            Arrays.stream(s.shape()).forEach(shape::add);
            t.add("shape", shape);
            JsonArray offsets = new JsonArray();
            offsets.add(offset);
            offset += s.bytes();
            offsets.add(offset);
            t.add("data_offsets", offsets);
            header.add(s.name(), t);
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        OutputStream out = new BufferedOutputStream(Files.newOutputStream(file, java.nio.file.StandardOpenOption.CREATE_NEW), 1 << 16);
        try {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
            out.write(len.array());
            out.write(json);
            out.write(" ".repeat(padded - json.length).getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            out.close();
            throw e;
        }
        return new SafetensorsWriter(file, out, new ArrayList<>(tensors));
    }

    /**
     * Appends values to the tensor being written; a tensor is complete when its element count has
     * been written, and the next one begins.
     *
     * @param values the values
     * @param offset the first value to write
     * @param count how many
     * @throws IOException if the file cannot be written
     * @throws IllegalStateException if more values are written than the tensors declared
     */
    public void write(float[] values, int offset, int count) throws IOException {
        int done = 0;
        while (done < count) {
            if (current >= specs.size()) {
                throw new IllegalStateException(file + ": more values written than the tensors declared");
            }
            SafetensorsDtype dtype = specs.get(current).dtype();
            int n = (int) Math.min(Math.min(count - done, remaining), buffer.capacity() / dtype.bytes());
            buffer.clear();
            dtype.encode(values, offset + done, n, buffer);
            out.write(buffer.array(), 0, buffer.position());
            done += n;
            remaining -= n;
            skipEmpty();
        }
    }

    /**
     * Appends all of an array (see {@link #write(float[], int, int)}).
     *
     * @param values the values
     * @throws IOException if the file cannot be written
     */
    public void write(float[] values) throws IOException {
        write(values, 0, values.length);
    }

    private void skipEmpty() {
        while (remaining == 0 && current < specs.size()) {
            current++;
            remaining = current < specs.size() ? TensorInfo.elementCount(specs.get(current).shape()) : 0;
        }
    }

    /**
     * Closes the file.
     *
     * @throws IOException if it cannot be written, or not every declared value was written (the
     *     message names the first incomplete tensor)
     */
    @Override
    public void close() throws IOException {
        out.close();
        if (current < specs.size()) {
            throw new IOException(file + ": tensor '" + specs.get(current).name() + "' is incomplete (" + remaining + " values missing)");
        }
    }

    /**
     * Writes {@value SafetensorsCheckpoint#INDEX_FILE} for a sharded checkpoint.
     *
     * @param dir the checkpoint directory
     * @param weightMap tensor name to shard file name
     * @param totalSize the data bytes of all shards ({@code metadata.total_size})
     * @throws IOException if it cannot be written
     */
    public static void writeIndex(Path dir, Map<String, String> weightMap, long totalSize) throws IOException {
        JsonObject root = new JsonObject();
        JsonObject meta = new JsonObject();
        meta.addProperty("total_size", totalSize);
        root.add("metadata", meta);
        JsonObject map = new JsonObject();
        weightMap.forEach(map::addProperty);
        root.add("weight_map", map);
        Files.writeString(dir.resolve(SafetensorsCheckpoint.INDEX_FILE), root.toString());
    }
}
