package ai.djl.jlcm.examples.bert;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * A reader for TensorFlow's tensor bundle checkpoint format ({@code variables.index} + {@code
 * variables.data-00000-of-00001}), without TensorFlow.
 *
 * <p>The index is a LevelDB-style table: its last 48 bytes are the footer (metaindex handle and
 * index handle as varints, zero padding, 8-byte magic {@code 0xdb4775248b80fb57} little-endian);
 * the index block lists the data blocks; each block holds prefix-compressed entries ({@code shared}
 * varint, {@code non-shared} varint, value length varint, key suffix, value) followed by a restart
 * array (uint32 offsets, uint32 count last) and a 5-byte trailer (compression type, masked crc32c)
 * that follows the block. Each value is a {@code BundleEntryProto}: field 1 dtype, field 2 shape
 * ({@code dim} entries with {@code size}), field 3 shard id, field 4 offset and field 5 size into the
 * data file, field 6 the masked crc32c of the tensor's bytes. The key {@code ""} holds the bundle
 * header. Only single-shard bundles and uncompressed blocks are supported (what TensorFlow writes).
 *
 * <p>Every structural problem (truncated file, bad magic, bad block checksum, an entry pointing
 * outside the data file, a tensor whose checksum does not match) is an {@link IOException} naming
 * the file.
 */
public final class TensorBundle {

    /** The TensorFlow {@code DataType} enum value of float32 ({@code DT_FLOAT}). */
    public static final int DT_FLOAT = 1;

    /** Size of the table footer in bytes. */
    static final int FOOTER_SIZE = 48;

    /** The table magic number, stored little-endian in the last 8 bytes. */
    static final long MAGIC = 0xdb4775248b80fb57L;

    private static final int BLOCK_TRAILER = 5;
    private static final int MASK_DELTA = 0xa282ead8;

    private final Path indexFile;
    private final Path dataFile;
    private final long dataSize;
    private final Map<String, Entry> entries;

    private TensorBundle(Path indexFile, Path dataFile, long dataSize, Map<String, Entry> entries) {
        this.indexFile = indexFile;
        this.dataFile = dataFile;
        this.dataSize = dataSize;
        this.entries = entries;
    }

    /**
     * One tensor of the bundle.
     *
     * @param name the tensor's name
     * @param dtype the TensorFlow {@code DataType} enum value ({@link #DT_FLOAT} for float32)
     * @param shape the shape
     * @param offset the byte offset into the data file
     * @param size the byte size in the data file
     * @param maskedCrc32c the masked crc32c of the tensor's bytes, as stored
     * @param hasCrc whether the entry carries a checksum
     */
    public record Entry(
            String name,
            int dtype,
            long[] shape,
            long offset,
            long size,
            int maskedCrc32c,
            boolean hasCrc) {

        /**
         * Returns the number of elements.
         *
         * @return the product of the shape
         */
        public long elementCount() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        /**
         * Returns the shape as text, for example {@code [768, 3072]}.
         *
         * @return the shape
         */
        public String shapeString() {
            return Arrays.toString(shape);
        }
    }

    /**
     * Opens a bundle by its prefix: {@code prefix.index} and {@code prefix.data-00000-of-00001}.
     *
     * @param prefix for example {@code .../variables/variables}
     * @return the bundle
     * @throws IOException if a file is missing or malformed
     */
    public static TensorBundle open(Path prefix) throws IOException {
        String base = prefix.getFileName().toString();
        return open(
                prefix.resolveSibling(base + ".index"),
                prefix.resolveSibling(base + ".data-00000-of-00001"));
    }

    /**
     * Opens a bundle: reads and checks the whole index; the data file is only checked for size
     * here and read tensor by tensor later.
     *
     * @param indexFile the {@code .index} file
     * @param dataFile the single data shard
     * @return the bundle
     * @throws IOException if a file is missing or malformed
     */
    public static TensorBundle open(Path indexFile, Path dataFile) throws IOException {
        if (!Files.isRegularFile(indexFile)) {
            throw new IOException("Tensor bundle index not found: " + indexFile);
        }
        if (!Files.isRegularFile(dataFile)) {
            throw new IOException("Tensor bundle data file not found: " + dataFile);
        }
        byte[] bytes = Files.readAllBytes(indexFile);
        long dataSize = Files.size(dataFile);
        Map<String, Entry> entries;
        try {
            entries = parseIndex(bytes, dataSize);
        } catch (IOException e) {
            throw new IOException("Malformed tensor bundle index " + indexFile + ": " + e.getMessage(), e);
        }
        return new TensorBundle(indexFile, dataFile, dataSize, Collections.unmodifiableMap(entries));
    }

    /**
     * Returns the tensor names in key order (the header entry excluded).
     *
     * @return the names
     */
    public List<String> names() {
        return List.copyOf(entries.keySet());
    }

    /**
     * Returns the entries by name, in key order.
     *
     * @return the entries
     */
    public Map<String, Entry> entries() {
        return entries;
    }

    /**
     * Returns whether the bundle holds a tensor.
     *
     * @param name the tensor name
     * @return whether it is present
     */
    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /**
     * Returns a tensor's entry.
     *
     * @param name the tensor name
     * @return the entry
     * @throws IllegalArgumentException if there is no such tensor
     */
    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException("No tensor '" + name + "' in " + indexFile);
        }
        return e;
    }

    /**
     * Returns the index file.
     *
     * @return the {@code .index} path
     */
    public Path getIndexFile() {
        return indexFile;
    }

    /**
     * Returns the data file.
     *
     * @return the data shard path
     */
    public Path getDataFile() {
        return dataFile;
    }

    /**
     * Returns the size of the data file in bytes.
     *
     * @return the size
     */
    public long getDataSize() {
        return dataSize;
    }

    /**
     * Reads a float32 tensor, row-major, after checking its crc32c.
     *
     * @param name the tensor name
     * @return the values
     * @throws IOException if the data cannot be read, is not float32, or fails its checksum
     */
    public float[] readFloats(String name) throws IOException {
        Entry e = entry(name);
        if (e.dtype() != DT_FLOAT) {
            throw new IOException(
                    "Tensor '" + name + "' in " + indexFile + " has dtype " + e.dtype() + ", not float32");
        }
        if (e.size() > Integer.MAX_VALUE - 8) {
            throw new IOException("Tensor '" + name + "' is too large to read at once: " + e.size());
        }
        ByteBuffer buf = ByteBuffer.allocate((int) e.size());
        try (FileChannel ch = FileChannel.open(dataFile, StandardOpenOption.READ)) {
            long pos = e.offset();
            while (buf.hasRemaining()) {
                int n = ch.read(buf, pos);
                if (n < 0) {
                    throw new IOException(
                            "Tensor '" + name + "': " + dataFile + " ends before byte " + (e.offset() + e.size()));
                }
                pos += n;
            }
        }
        byte[] raw = buf.array();
        if (e.hasCrc()) {
            CRC32C crc = new CRC32C();
            crc.update(raw, 0, raw.length);
            int actual = mask((int) crc.getValue());
            if (actual != e.maskedCrc32c()) {
                throw new IOException(
                        "Tensor '" + name + "' in " + dataFile + " fails its crc32c check (corrupted data file)");
            }
        }
        float[] out = new float[raw.length / 4];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    /**
     * Masks a crc32c the way LevelDB and TensorFlow store it.
     *
     * @param crc the crc32c
     * @return the masked value
     */
    static int mask(int crc) {
        return ((crc >>> 15) | (crc << 17)) + MASK_DELTA;
    }

    private static Map<String, Entry> parseIndex(byte[] file, long dataSize) throws IOException {
        if (file.length < FOOTER_SIZE) {
            throw new IOException("file is " + file.length + " bytes, shorter than the 48-byte footer");
        }
        int footer = file.length - FOOTER_SIZE;
        long magic = ByteBuffer.wrap(file, file.length - 8, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (magic != MAGIC) {
            throw new IOException(String.format("bad table magic 0x%016x", magic));
        }
        Reader f = new Reader(file, footer, file.length - 8);
        f.varint(); // metaindex offset
        f.varint(); // metaindex size
        long indexOffset = f.varint();
        long indexSize = f.varint();
        Map<String, Entry> entries = new TreeMap<>();
        boolean header = false;
        for (byte[][] kv : block(file, footer, indexOffset, indexSize, "index block")) {
            Reader h = new Reader(kv[1], 0, kv[1].length);
            long offset = h.varint();
            long size = h.varint();
            for (byte[][] e : block(file, footer, offset, size, "data block at " + offset)) {
                String key = new String(e[0], StandardCharsets.UTF_8);
                if (key.isEmpty()) {
                    checkHeader(e[1]);
                    header = true;
                } else {
                    entries.put(key, entry(key, e[1], dataSize));
                }
            }
        }
        if (!header) {
            throw new IOException("no bundle header entry");
        }
        return entries;
    }

    /** Returns the key/value pairs of one block, after checking its trailer. */
    private static List<byte[][]> block(byte[] file, int limit, long offset, long size, String what)
            throws IOException {
        if (offset < 0 || size < 4 || offset + size + BLOCK_TRAILER > limit) {
            throw new IOException(what + ": handle (" + offset + ", " + size + ") lies outside the file");
        }
        int start = (int) offset;
        int end = (int) (offset + size);
        if (file[end] != 0) {
            throw new IOException(what + ": compressed blocks (type " + file[end] + ") are not supported");
        }
        CRC32C crc = new CRC32C();
        crc.update(file, start, (int) size + 1);
        int stored = ByteBuffer.wrap(file, end + 1, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        if (mask((int) crc.getValue()) != stored) {
            throw new IOException(what + ": block checksum mismatch");
        }
        int restarts = ByteBuffer.wrap(file, end - 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        long restartBytes = 4L * restarts + 4;
        if (restarts < 0 || restartBytes > size) {
            throw new IOException(what + ": bad restart count " + restarts);
        }
        int entriesEnd = (int) (end - restartBytes);
        Reader r = new Reader(file, start, entriesEnd);
        List<byte[][]> out = new java.util.ArrayList<>();
        byte[] key = new byte[0];
        while (r.pos < entriesEnd) {
            long shared = r.varint(); // a prefix of the previous key, not bytes of this block
            int nonShared = r.length();
            int valueLength = r.length();
            if (shared < 0 || shared > key.length) {
                throw new IOException(what + ": entry shares " + shared + " bytes of a " + key.length + "-byte key");
            }
            byte[] next = Arrays.copyOf(key, (int) shared + nonShared);
            r.bytes(next, (int) shared, nonShared);
            byte[] value = new byte[valueLength];
            r.bytes(value, 0, valueLength);
            out.add(new byte[][] {next, value});
            key = next;
        }
        return out;
    }

    private static void checkHeader(byte[] proto) throws IOException {
        Reader r = new Reader(proto, 0, proto.length);
        long shards = 1; // proto3 default 0 is never written by TF: a bundle has >= 1 shard
        while (r.pos < proto.length) {
            long tag = r.varint();
            if (tag >>> 3 == 1 && (tag & 7) == 0) {
                shards = r.varint();
            } else {
                r.skip((int) (tag & 7));
            }
        }
        if (shards != 1) {
            throw new IOException("bundle has " + shards + " data shards; only single-shard bundles are supported");
        }
    }

    private static Entry entry(String name, byte[] proto, long dataSize) throws IOException {
        Reader r = new Reader(proto, 0, proto.length);
        int dtype = 0;
        long[] shape = new long[0];
        long offset = 0;
        long size = 0;
        int crc = 0;
        boolean hasCrc = false;
        while (r.pos < proto.length) {
            long tag = r.varint();
            int field = (int) (tag >>> 3);
            int wire = (int) (tag & 7);
            if (field == 1 && wire == 0) {
                dtype = (int) r.varint();
            } else if (field == 2 && wire == 2) {
                shape = shape(r.sub());
            } else if (field == 3 && wire == 0) {
                long shard = r.varint();
                if (shard != 0) {
                    throw new IOException("tensor '" + name + "' lies in shard " + shard);
                }
            } else if (field == 4 && wire == 0) {
                offset = r.varint();
            } else if (field == 5 && wire == 0) {
                size = r.varint();
            } else if (field == 6 && wire == 5) {
                crc = r.fixed32();
                hasCrc = true;
            } else if (field == 7 && wire == 2) {
                throw new IOException("tensor '" + name + "' is sliced; sliced tensors are not supported");
            } else {
                r.skip(wire);
            }
        }
        Entry e = new Entry(name, dtype, shape, offset, size, crc, hasCrc);
        if (offset < 0 || size < 0 || offset + size > dataSize) {
            throw new IOException(
                    "tensor '" + name + "' at bytes [" + offset + ", " + (offset + size)
                            + ") lies outside the " + dataSize + "-byte data file");
        }
        if (dtype == DT_FLOAT && e.elementCount() * 4 != size) {
            throw new IOException(
                    "tensor '" + name + "' of shape " + e.shapeString() + " has " + size
                            + " bytes, expected " + e.elementCount() * 4);
        }
        return e;
    }

    private static long[] shape(Reader r) throws IOException {
        List<Long> dims = new java.util.ArrayList<>();
        while (r.pos < r.end) {
            long tag = r.varint();
            if (tag >>> 3 == 2 && (tag & 7) == 2) {
                Reader dim = r.sub();
                long size = 0;
                while (dim.pos < dim.end) {
                    long t = dim.varint();
                    if (t >>> 3 == 1 && (t & 7) == 0) {
                        size = dim.varint();
                    } else {
                        dim.skip((int) (t & 7));
                    }
                }
                if (size < 0) {
                    throw new IOException("negative dimension " + size);
                }
                dims.add(size);
            } else if (tag >>> 3 == 3 && (tag & 7) == 0) {
                if (r.varint() != 0) {
                    throw new IOException("tensor of unknown rank");
                }
            } else {
                r.skip((int) (tag & 7));
            }
        }
        return dims.stream().mapToLong(Long::longValue).toArray();
    }

    /** A bounds-checked cursor over protobuf / varint encoded bytes. */
    private static final class Reader {

        final byte[] buf;
        int pos;
        final int end;

        Reader(byte[] buf, int pos, int end) {
            this.buf = buf;
            this.pos = pos;
            this.end = end;
        }

        long varint() throws IOException {
            long result = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) {
                    throw new IOException("truncated varint");
                }
                byte b = buf[pos++];
                result |= (long) (b & 0x7f) << shift;
                if (b >= 0) {
                    return result;
                }
            }
            throw new IOException("varint longer than 10 bytes");
        }

        int length() throws IOException {
            long v = varint();
            if (v < 0 || v > end - pos) {
                throw new IOException("length " + v + " runs past the end of its block");
            }
            return (int) v;
        }

        int fixed32() throws IOException {
            if (end - pos < 4) {
                throw new IOException("truncated fixed32");
            }
            int v = ByteBuffer.wrap(buf, pos, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
            pos += 4;
            return v;
        }

        void bytes(byte[] dest, int at, int n) throws IOException {
            if (n > end - pos) {
                throw new IOException("entry runs past the end of its block");
            }
            System.arraycopy(buf, pos, dest, at, n);
            pos += n;
        }

        Reader sub() throws IOException {
            int n = length();
            Reader r = new Reader(buf, pos, pos + n);
            pos += n;
            return r;
        }

        void skip(int wire) throws IOException {
            switch (wire) {
                case 0:
                    varint();
                    break;
                case 1:
                    advance(8);
                    break;
                case 2:
                    advance(length());
                    break;
                case 5:
                    advance(4);
                    break;
                default:
                    throw new IOException("unsupported protobuf wire type " + wire);
            }
        }

        private void advance(int n) throws IOException {
            if (n > end - pos) {
                throw new IOException("field runs past the end of its message");
            }
            pos += n;
        }
    }
}
