package ai.djl.jlcm.examples.bert;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * Writes small TensorFlow tensor bundles for tests, independently of {@link TensorBundle}: a
 * LevelDB-style index (prefix-compressed keys, restart points every {@value #RESTART_INTERVAL}
 * entries, block trailers with masked crc32c, 48-byte footer) and a float32 data file.
 */
final class BundleWriter {

    static final int RESTART_INTERVAL = 4;

    /** A float tensor in TF layout. */
    record Tensor(long[] shape, float[] values) {
        Tensor {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            if (n != values.length) {
                throw new IllegalArgumentException("shape does not match values");
            }
        }
    }

    private BundleWriter() {}

    /**
     * Writes {@code prefix.index} and {@code prefix.data-00000-of-00001}.
     *
     * @param prefix the bundle prefix
     * @param tensors name to tensor
     * @param blockSize entries per data block (several data blocks exercise the index block)
     */
    static void write(Path prefix, Map<String, Tensor> tensors, int blockSize) throws IOException {
        String base = prefix.getFileName().toString();
        Path index = prefix.resolveSibling(base + ".index");
        Path data = prefix.resolveSibling(base + ".data-00000-of-00001");
        ByteArrayOutputStream dataBytes = new ByteArrayOutputStream();
        TreeMap<String, byte[]> entries = new TreeMap<>();
        entries.put("", header());
        for (Map.Entry<String, Tensor> e : new TreeMap<>(tensors).entrySet()) {
            Tensor t = e.getValue();
            ByteBuffer buf = ByteBuffer.allocate(4 * t.values().length).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : t.values()) {
                buf.putFloat(v);
            }
            byte[] raw = buf.array();
            long offset = dataBytes.size();
            dataBytes.write(raw);
            CRC32C crc = new CRC32C();
            crc.update(raw);
            entries.put(e.getKey(), entry(t.shape(), offset, raw.length, TensorBundle.mask((int) crc.getValue())));
        }
        Files.write(data, dataBytes.toByteArray());

        ByteArrayOutputStream file = new ByteArrayOutputStream();
        List<String> keys = new ArrayList<>(entries.keySet());
        List<byte[]> indexKeys = new ArrayList<>();
        List<long[]> handles = new ArrayList<>();
        for (int from = 0; from < keys.size(); from += blockSize) {
            List<String> chunk = keys.subList(from, Math.min(keys.size(), from + blockSize));
            List<byte[][]> kv = new ArrayList<>();
            for (String k : chunk) {
                kv.add(new byte[][] {k.getBytes(StandardCharsets.UTF_8), entries.get(k)});
            }
            handles.add(writeBlock(file, kv));
            // any key >= the block's last key and < the next block's first key separates them
            indexKeys.add(chunk.get(chunk.size() - 1).getBytes(StandardCharsets.UTF_8));
        }
        long[] meta = writeBlock(file, List.of());
        List<byte[][]> indexEntries = new ArrayList<>();
        for (int i = 0; i < handles.size(); i++) {
            ByteArrayOutputStream h = new ByteArrayOutputStream();
            varint(h, handles.get(i)[0]);
            varint(h, handles.get(i)[1]);
            indexEntries.add(new byte[][] {indexKeys.get(i), h.toByteArray()});
        }
        long[] idx = writeBlock(file, indexEntries);
        ByteArrayOutputStream footer = new ByteArrayOutputStream();
        varint(footer, meta[0]);
        varint(footer, meta[1]);
        varint(footer, idx[0]);
        varint(footer, idx[1]);
        while (footer.size() < 40) {
            footer.write(0);
        }
        ByteBuffer magic = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(TensorBundle.MAGIC);
        footer.write(magic.array());
        file.write(footer.toByteArray());
        Files.write(index, file.toByteArray());
    }

    private static long[] writeBlock(ByteArrayOutputStream file, List<byte[][]> kv) throws IOException {
        ByteArrayOutputStream block = new ByteArrayOutputStream();
        List<Integer> restarts = new ArrayList<>();
        byte[] last = new byte[0];
        for (int i = 0; i < kv.size(); i++) {
            byte[] key = kv.get(i)[0];
            byte[] value = kv.get(i)[1];
            int shared = 0;
            if (i % RESTART_INTERVAL == 0) {
                restarts.add(block.size());
            } else {
                while (shared < last.length && shared < key.length && last[shared] == key[shared]) {
                    shared++;
                }
            }
            varint(block, shared);
            varint(block, key.length - shared);
            varint(block, value.length);
            block.write(key, shared, key.length - shared);
            block.write(value);
            last = key;
        }
        if (restarts.isEmpty()) {
            restarts.add(0);
        }
        ByteBuffer r = ByteBuffer.allocate(4 * restarts.size() + 4).order(ByteOrder.LITTLE_ENDIAN);
        restarts.forEach(r::putInt);
        r.putInt(restarts.size());
        block.write(r.array());
        byte[] contents = block.toByteArray();
        long offset = file.size();
        file.write(contents);
        CRC32C crc = new CRC32C();
        crc.update(contents);
        crc.update(0);
        file.write(0);
        file.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(TensorBundle.mask((int) crc.getValue())).array());
        return new long[] {offset, contents.length};
    }

    private static byte[] header() {
        return new byte[] {0x08, 0x01, 0x1a, 0x02, 0x08, 0x01}; // num_shards 1, version {producer 1}
    }

    private static byte[] entry(long[] shape, long offset, long size, int crc) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x08);
        varint(out, TensorBundle.DT_FLOAT);
        ByteArrayOutputStream s = new ByteArrayOutputStream();
        for (long d : shape) {
            ByteArrayOutputStream dim = new ByteArrayOutputStream();
            dim.write(0x08);
            varint(dim, d);
            s.write(0x12);
            varint(s, dim.size());
            s.write(dim.toByteArray());
        }
        out.write(0x12);
        varint(out, s.size());
        out.write(s.toByteArray());
        if (offset != 0) {
            out.write(0x20);
            varint(out, offset);
        }
        out.write(0x28);
        varint(out, size);
        out.write(0x35);
        out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(crc).array());
        return out.toByteArray();
    }

    static void varint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7fL) != 0) {
            out.write((int) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }
}
