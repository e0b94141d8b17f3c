package ai.djl.jlcm.nn;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reads the records of a codebook block's {@code .params} stream with every declared size checked
 * before anything is allocated: a shape's rank, a parameter's name, data type, shape and byte count
 * must be the ones the block expects. DJL's own decoding trusts these fields (a declared rank or
 * length is allocated as given, and an unsupported data type aborts the engine), so a codebook
 * block never hands it a record that was not checked first.
 */
final class ParameterRecords {

    /** The highest rank a shape in a codebook block's metadata has (a 3-D convolution's input). */
    static final int MAX_RANK = 5;

    private static final byte BIG = '>';
    private static final byte LITTLE = '<';

    private ParameterRecords() {}

    /**
     * Reads the input shapes {@code AbstractBaseBlock.saveInputShapes} writes.
     *
     * @param is the stream
     * @param layer the layer name, for messages
     * @return the shapes
     * @throws IOException if reading fails
     * @throws MalformedModelException if there is not exactly one input shape, or it is malformed
     */
    static Shape[] readInputShapes(DataInputStream is, String layer) throws IOException, MalformedModelException {
        int count = is.readInt();
        if (count != 1) {
            throw new MalformedModelException(
                    "Layer " + layer + ": the parameter file declares " + count + " input shapes, expected 1");
        }
        return new Shape[] {readShape(is, layer, "input shape")};
    }

    /**
     * Reads a shape as {@link Shape#getEncoded()} writes it.
     *
     * @param is the stream
     * @param layer the layer name, for messages
     * @param what what the shape is, for messages
     * @return the shape
     * @throws IOException if reading fails
     * @throws MalformedModelException if the rank exceeds {@link #MAX_RANK}, or a dimension or the
     *     layout is invalid
     */
    static Shape readShape(DataInputStream is, String layer, String what) throws IOException, MalformedModelException {
        int rank = is.readInt();
        if (rank < 0 || rank > MAX_RANK) {
            throw new MalformedModelException(
                    "Layer " + layer + ": the parameter file declares rank " + rank + " for the " + what
                            + ", expected at most " + MAX_RANK);
        }
        long[] dims = new long[rank];
        for (int d = 0; d < rank; d++) {
            dims[d] = is.readLong();
        }
        int layoutLength = is.readInt();
        if (layoutLength != rank) {
            throw new MalformedModelException(
                    "Layer " + layer + ": the parameter file declares rank " + rank + " for the " + what
                            + " with a layout of " + layoutLength + " dimensions");
        }
        char[] layout = new char[layoutLength];
        for (int d = 0; d < layoutLength; d++) {
            layout[d] = is.readChar();
        }
        try {
            return new Shape(dims, new String(layout));
        } catch (IllegalArgumentException e) {
            throw new MalformedModelException(
                    "Layer " + layer + ": the parameter file declares an invalid " + what + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads one parameter record ({@link Parameter#save} format) and loads it into the parameter,
     * once its name, data type, shape and byte count are the expected ones.
     *
     * @param parameter the parameter to load into
     * @param type the expected data type
     * @param shape the expected shape
     * @param manager the manager that owns the array
     * @param is the stream
     * @param layer the layer name, for messages
     * @throws IOException if reading fails
     * @throws MalformedModelException if the record is not the expected one
     */
    static void load(Parameter parameter, DataType type, Shape shape, NDManager manager, DataInputStream is, String layer)
            throws IOException, MalformedModelException {
        String where = "Layer " + layer + ", parameter '" + parameter.getName() + "': ";
        char marker = is.readChar();
        if (marker != 'P') {
            throw new MalformedModelException(where + "the parameter file holds no array for it");
        }
        byte version = is.readByte();
        String name = is.readUTF();
        if (version != 1 || !name.equals(parameter.getName())) {
            throw new MalformedModelException(
                    where + "the parameter file holds parameter '" + name + "' (encoding version " + version + ") instead");
        }
        String magic = is.readUTF();
        int encoding = is.readInt();
        if (!"NDAR".equals(magic) || encoding < 1 || encoding > 3) {
            throw new MalformedModelException(
                    where + "the parameter file holds no NDArray (encoding '" + magic + "' " + encoding
                            + "), expected encoding NDAR 1 to 3");
        }
        String arrayName = encoding > 1 && is.readByte() == 1 ? is.readUTF() : null;
        String sparse = is.readUTF();
        String storedType = is.readUTF();
        if (!"DENSE".equals(sparse) || !type.name().equals(storedType)) {
            throw new MalformedModelException(
                    where + "the parameter file holds a " + sparse + " " + storedType + " array, expected a DENSE "
                            + type.name() + " array");
        }
        Shape storedShape = readShape(is, layer, "shape of '" + parameter.getName() + "'");
        if (!storedShape.equals(shape)) {
            throw new MalformedModelException(
                    where + "the parameter file holds shape " + storedShape + ", expected " + shape);
        }
        byte order = encoding > 2 ? is.readByte() : ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN ? BIG : LITTLE;
        if (order != BIG && order != LITTLE) {
            throw new MalformedModelException(where + "the parameter file holds an invalid byte order mark " + order);
        }
        long expectedBytes = shape.size() * type.getNumOfBytes();
        int length = is.readInt();
        if (length != expectedBytes) {
            throw new MalformedModelException(
                    where + "the parameter file holds " + length + " bytes, expected " + expectedBytes);
        }
        // The checked record's header, in the encoding DJL 0.36 writes, then its data straight from
        // the stream (no copy of it here: a 7B model's token table is 33 MB even at 2 bits).
        ByteArrayOutputStream header = new ByteArrayOutputStream(128);
        DataOutputStream os = new DataOutputStream(header);
        os.writeChar('P');
        os.writeByte(1);
        os.writeUTF(name);
        os.writeUTF("NDAR");
        os.writeInt(3);
        os.writeByte(arrayName == null ? 0 : 1);
        if (arrayName != null) {
            os.writeUTF(arrayName);
        }
        os.writeUTF(sparse);
        os.writeUTF(storedType);
        os.write(storedShape.getEncoded());
        os.writeByte(order);
        os.writeInt(length);
        InputStream record = new SequenceInputStream(new ByteArrayInputStream(header.toByteArray()), new Limited(is, length, where));
        parameter.load(manager, new DataInputStream(record));
    }

    /**
     * Writes parameter records exactly as {@link Parameter#save} does, but from a view of the
     * engine's memory where it can, a megabyte at a time: DJL's own encoding copies the array into
     * a byte array and a direct buffer first, about 3 bytes of garbage per stored byte (5 GB for a
     * 7B model at 2 bits, freed only by the garbage collector).
     *
     * @param parameters the parameters, in their block's order
     * @param os the stream
     * @throws IOException if writing fails
     */
    static void saveAll(Iterable<Parameter> parameters, DataOutputStream os) throws IOException {
        for (Parameter p : parameters) {
            save(p, os);
        }
    }

    /**
     * Writes one parameter record as {@link #saveAll} does.
     *
     * @param parameter the parameter
     * @param os the stream
     * @throws IOException if writing fails
     */
    static void save(Parameter parameter, DataOutputStream os) throws IOException {
        if (!parameter.isInitialized()) {
            os.writeChar('N');
            return;
        }
        NDArray array = parameter.getArray();
        os.writeChar('P');
        os.writeByte(1);
        os.writeUTF(parameter.getName());
        os.writeUTF("NDAR");
        os.writeInt(3);
        String name = array.getName();
        if (name == null) {
            os.write(0);
        } else {
            os.write(1);
            os.writeUTF(name);
        }
        os.writeUTF(array.getSparseFormat().name());
        os.writeUTF(array.getDataType().name());
        os.write(array.getShape().getEncoded());
        ByteBuffer data = array.toByteBuffer(true);
        os.write(data.order() == ByteOrder.BIG_ENDIAN ? BIG : LITTLE);
        os.writeInt(data.remaining());
        byte[] chunk = new byte[Math.min(1 << 20, data.remaining())];
        while (data.hasRemaining()) {
            int n = Math.min(chunk.length, data.remaining());
            data.get(chunk, 0, n);
            os.write(chunk, 0, n);
        }
    }

    /**
     * The next {@code remaining} bytes of a stream, then its end (the stream itself stays open); a
     * stream that ends sooner is an {@link EOFException} naming the parameter.
     */
    private static final class Limited extends InputStream {
        private final InputStream in;
        private final String where;
        private long remaining;

        Limited(InputStream in, long remaining, String where) {
            this.in = in;
            this.remaining = remaining;
            this.where = where;
        }

        @Override
        public int read() throws IOException {
            if (remaining <= 0) {
                return -1;
            }
            int b = in.read();
            if (b < 0) {
                throw truncated();
            }
            remaining--;
            return b;
        }

        private EOFException truncated() {
            return new EOFException(where + "the parameter file ends " + remaining + " bytes before the array's end");
        }

        @Override
        public int read(byte[] buffer, int off, int len) throws IOException {
            if (remaining <= 0) {
                return len == 0 ? 0 : -1;
            }
            int n = in.read(buffer, off, (int) Math.min(len, remaining));
            if (n < 0) {
                throw truncated();
            }
            remaining -= n;
            return n;
        }
    }
}
