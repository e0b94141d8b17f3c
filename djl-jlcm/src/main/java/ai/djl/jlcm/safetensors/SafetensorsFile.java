package ai.djl.jlcm.safetensors;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import com.google.gson.JsonParseException;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;

import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One {@code .safetensors} file: an 8-byte little-endian header length, a JSON header (per tensor
 * {@code dtype}, {@code shape}, {@code data_offsets}; optional {@code __metadata__} of strings) and
 * the data section. Opening reads and checks only the header; a tensor's bytes are memory-mapped and
 * converted to {@code float} when it is read.
 *
 * <p>Every error is a {@link MalformedModelException} that names the file (and the tensor): a
 * truncated header, a header length beyond the file, malformed JSON, an unknown dtype, offsets out of
 * range or overlapping, a size that does not match the shape, or a tensor that is not there.
 */
public final class SafetensorsFile implements AutoCloseable {

    /** The largest header accepted (as the reference implementation: 100 MB). */
    static final long MAX_HEADER = 100_000_000L;

    /** The most bytes mapped at once. */
    private static final int MAP_CHUNK = 1 << 30;

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(
            Path file, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /**
     * Opens a file and checks its header.
     *
     * @param file the file
     * @return the open file; the caller closes it
     * @throws IOException if it cannot be read
     * @throws MalformedModelException if the header is malformed (the message names the file and
     *     the tensor)
     */
    public static SafetensorsFile open(Path file) throws IOException, MalformedModelException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long size = channel.size();
            if (size < 8) {
                throw new MalformedModelException(
                        file + ": truncated header (" + size + " bytes; the 8-byte header length is missing)");
            }
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, len, 0);
            long headerLength = len.flip().getLong();
            if (headerLength < 0 || headerLength > size - 8) {
                throw new MalformedModelException(
                        file + ": header length " + Long.toUnsignedString(headerLength) + " is beyond the file ("
                                + size + " bytes)");
            }
            if (headerLength > MAX_HEADER) {
                throw new MalformedModelException(
                        file + ": header length " + headerLength + " exceeds the limit of " + MAX_HEADER + " bytes");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLength);
            readFully(channel, header, 8);
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorInfo> tensors = parseHeader(file, header.flip(), metadata);
            checkLayout(file, tensors, size - 8 - headerLength);
            return new SafetensorsFile(
                    file, channel, 8 + headerLength, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
        } catch (IOException | MalformedModelException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer buf, long position) throws IOException {
        long at = position;
        while (buf.hasRemaining()) {
            int n = channel.read(buf, at);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + at);
            }
            at += n;
        }
    }

    private static Map<String, TensorInfo> parseHeader(Path file, ByteBuffer bytes, Map<String, String> metadata)
            throws MalformedModelException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(bytes).toString();
        } catch (CharacterCodingException e) {
            throw new MalformedModelException(file + ": malformed header (not UTF-8 text)", e);
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        boolean seenMetadata = false;
        try (JsonReader r = new JsonReader(new StringReader(text))) {
            r.setStrictness(Strictness.STRICT);
            r.beginObject();
            while (r.hasNext()) {
                String name = r.nextName();
                if (tensors.containsKey(name) || ("__metadata__".equals(name) && seenMetadata)) {
                    throw new MalformedModelException(file + ": tensor '" + name + "' is listed twice in the header");
                }
                if ("__metadata__".equals(name)) {
                    readMetadata(file, r, metadata);
                    seenMetadata = true;
                } else {
                    tensors.put(name, readTensor(file, name, r));
                }
            }
            r.endObject();
            if (r.peek() != JsonToken.END_DOCUMENT) {
                throw new MalformedModelException(file + ": malformed JSON header (text after the object)");
            }
        } catch (IOException | JsonParseException | IllegalStateException | NumberFormatException e) {
            throw new MalformedModelException(file + ": malformed JSON header (" + e.getMessage() + ")", e);
        }
        return tensors;
    }

    private static void readMetadata(Path file, JsonReader r, Map<String, String> metadata)
            throws IOException, MalformedModelException {
        if (r.peek() != JsonToken.BEGIN_OBJECT) {
            throw new MalformedModelException(file + ": __metadata__ must be an object of strings");
        }
        r.beginObject();
        while (r.hasNext()) {
            String key = r.nextName();
            if (r.peek() != JsonToken.STRING) {
                throw new MalformedModelException(file + ": __metadata__ '" + key + "' is not a string");
            }
            metadata.put(key, r.nextString());
        }
        r.endObject();
    }

    private static TensorInfo readTensor(Path file, String name, JsonReader r)
            throws IOException, MalformedModelException {
        String where = file + ": tensor '" + name + "'";
        if (r.peek() != JsonToken.BEGIN_OBJECT) {
            throw new MalformedModelException(where + " is not a JSON object");
        }
        String dtypeName = null;
        long[] shape = null;
        long[] offsets = null;
        r.beginObject();
        while (r.hasNext()) {
            String key = r.nextName();
            switch (key) {
                case "dtype":
                    dtypeName = r.nextString();
                    break;
                case "shape":
                    shape = longs(r, where + " shape");
                    break;
                case "data_offsets":
                    offsets = longs(r, where + " data_offsets");
                    break;
                default:
                    throw new MalformedModelException(where + " has an unknown field '" + key + "'");
            }
        }
        r.endObject();
        if (dtypeName == null || shape == null || offsets == null) {
            throw new MalformedModelException(where + " needs dtype, shape and data_offsets");
        }
        SafetensorsDtype dtype = SafetensorsDtype.of(dtypeName);
        if (dtype == null) {
            throw new MalformedModelException(
                    where + " has unknown dtype '" + dtypeName + "' (supported: " + Arrays.toString(SafetensorsDtype.values()) + ")");
        }
        if (offsets.length != 2 || offsets[1] < offsets[0]) {
            throw new MalformedModelException(where + " data_offsets " + Arrays.toString(offsets) + " are not [begin, end]");
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(TensorInfo.elementCount(shape), dtype.bytes());
        } catch (ArithmeticException e) {
            throw new MalformedModelException(where + " shape " + Arrays.toString(shape) + " is too large", e);
        }
        if (bytes != offsets[1] - offsets[0]) {
            throw new MalformedModelException(
                    where + " shape " + Arrays.toString(shape) + " of " + dtype + " needs " + bytes
                            + " bytes, data_offsets " + Arrays.toString(offsets) + " hold " + (offsets[1] - offsets[0]));
        }
        return new TensorInfo(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static long[] longs(JsonReader r, String what) throws IOException, MalformedModelException {
        if (r.peek() != JsonToken.BEGIN_ARRAY) {
            throw new MalformedModelException(what + " is not an array");
        }
        List<Long> values = new ArrayList<>();
        r.beginArray();
        while (r.hasNext()) {
            if (r.peek() != JsonToken.NUMBER) {
                throw new MalformedModelException(what + " holds a non-number");
            }
            long v = r.nextLong();
            if (v < 0) {
                throw new MalformedModelException(what + " holds a negative number " + v);
            }
            values.add(v);
        }
        r.endArray();
        return values.stream().mapToLong(Long::longValue).toArray();
    }

    private static void checkLayout(Path file, Map<String, TensorInfo> tensors, long dataSize)
            throws MalformedModelException {
        List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        TensorInfo previous = null;
        for (TensorInfo t : byOffset) {
            if (t.end() > dataSize) {
                throw new MalformedModelException(
                        file + ": tensor '" + t.name() + "' data_offsets [" + t.begin() + ", " + t.end()
                                + "] are out of range (the data section has " + dataSize + " bytes)");
            }
            if (previous != null && t.begin() < previous.end()) {
                throw new MalformedModelException(
                        file + ": tensor '" + t.name() + "' data_offsets [" + t.begin() + ", " + t.end()
                                + "] overlap tensor '" + previous.name() + "' [" + previous.begin() + ", " + previous.end() + "]");
            }
            previous = t;
        }
    }

    /**
     * Returns the file.
     *
     * @return the path it was opened from
     */
    public Path getFile() {
        return file;
    }

    /**
     * Returns the tensor names in header order.
     *
     * @return the names
     */
    public Set<String> names() {
        return tensors.keySet();
    }

    /**
     * Returns the {@code __metadata__} entries.
     *
     * @return key to value (empty if the header has none)
     */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Returns whether a tensor is in the file.
     *
     * @param name the tensor name
     * @return whether it is
     */
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /**
     * Returns a tensor's header entry.
     *
     * @param name the tensor name
     * @return its description
     * @throws MalformedModelException if the file has no such tensor
     */
    public TensorInfo info(String name) throws MalformedModelException {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new MalformedModelException(file + ": no tensor '" + name + "' (the file has " + tensors.size() + ")");
        }
        return t;
    }

    /**
     * Reads a tensor as floats (row-major), converting half and bfloat16 values exactly.
     *
     * @param name the tensor name
     * @return its values
     * @throws IOException if the file cannot be read
     * @throws MalformedModelException if there is no such tensor, or it has more than {@code
     *     Integer.MAX_VALUE - 8} elements
     */
    public float[] readFloats(String name) throws IOException, MalformedModelException {
        TensorInfo t = info(name);
        long count = t.elementCount();
        if (count > Integer.MAX_VALUE - 8) {
            throw new MalformedModelException(file + ": tensor '" + name + "' has " + count + " elements, too many for one array");
        }
        float[] values = new float[(int) count];
        int perChunk = MAP_CHUNK / t.dtype().bytes();
        for (int done = 0; done < values.length; ) {
            int n = Math.min(perChunk, values.length - done);
            long at = dataStart + t.begin() + (long) done * t.dtype().bytes();
            ByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, at, (long) n * t.dtype().bytes());
            t.dtype().decode(mapped.order(ByteOrder.LITTLE_ENDIAN), values, done, n);
            done += n;
        }
        return values;
    }

    /**
     * Reads a tensor as floats and checks its shape.
     *
     * @param name the tensor name
     * @param expected the shape the caller needs
     * @return its values
     * @throws IOException if the file cannot be read
     * @throws MalformedModelException if there is no such tensor or its shape differs (the message
     *     names the file, the tensor and both shapes)
     */
    public float[] readFloats(String name, long[] expected) throws IOException, MalformedModelException {
        TensorInfo t = info(name);
        if (!Arrays.equals(t.shape(), expected)) {
            throw new MalformedModelException(
                    file + ": tensor '" + name + "' has shape " + t.shapeString() + ", expected " + Arrays.toString(expected));
        }
        return readFloats(name);
    }

    /**
     * Reads a tensor into a float32 array of the engine.
     *
     * @param manager the manager of the new array
     * @param name the tensor name
     * @return the array, of the tensor's shape
     * @throws IOException if the file cannot be read
     * @throws MalformedModelException if there is no such tensor
     */
    public NDArray read(NDManager manager, String name) throws IOException, MalformedModelException {
        return manager.create(readFloats(name), new Shape(info(name).shape()));
    }

    /** Closes the file; mapped buffers already handed out stay valid. */
    @Override
    public void close() throws IOException {
        channel.close();
    }
}
