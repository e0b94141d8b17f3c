package ai.djl.jlcm.nn;

import ai.djl.MalformedModelException;
import ai.djl.jlcm.fuzz.Fuzzing;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Jazzer harness for the {@code .params} reader of codebook blocks: the first byte picks one of three
 * empty blocks (built as {@code JlcmBlockFactory} builds them), the rest is given to its {@code
 * loadParameters}. Accepted: the block loads, or a {@link MalformedModelException} or {@link
 * IOException} with a message.
 */
public final class CodebookParamsFuzzer {

    private static final int BLOCKS = 3;

    private CodebookParamsFuzzer() {}

    /**
     * Loads each seed before fuzzing: a check that the seeds are valid, and a warm-up, so that
     * starting the engine and loading (and instrumenting) its classes is not timed as an input.
     *
     * @throws IOException if a seed does not load
     * @throws MalformedModelException if a seed does not load
     */
    public static void fuzzerInitialize() throws IOException, MalformedModelException {
        for (byte[] seed : seeds()) {
            load(seed);
        }
    }

    /**
     * Runs one input.
     *
     * @param data the fuzzed bytes
     */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            load(data);
        } catch (MalformedModelException | IOException e) {
            Fuzzing.requireMessage(e);
        }
    }

    private static void load(byte[] data) throws IOException, MalformedModelException {
        if (data.length == 0) {
            return;
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            block(data[0], null)
                    .loadParameters(manager, new DataInputStream(new ByteArrayInputStream(data, 1, data.length - 1)));
        }
    }

    /**
     * Returns the parameter bytes real blocks of each kind write, prefixed by the kind.
     *
     * @return the seeds
     */
    public static List<byte[]> seeds() {
        List<byte[]> seeds = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager()) {
            for (int kind = 0; kind < BLOCKS; kind++) {
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                bytes.write(kind);
                block(kind, manager).saveParameters(new DataOutputStream(bytes));
                seeds.add(bytes.toByteArray());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return seeds;
    }

    /** A block of the given kind: empty, or filled with a seeded weight when a manager is given. */
    private static AbstractBlock block(int kind, NDManager manager) {
        switch (Math.floorMod(kind, BLOCKS)) {
            case 0:
                return CodebookLinear.codebookBuilder()
                        .setWeight(weight(new Shape(6, 10), 3, CodebookMode.MULTI, 3, manager))
                        .optBiasArray(manager == null ? null : manager.arange(6f))
                        .optInputShape(manager == null ? null : new Shape(4, 10))
                        .optLayerName("fuzz/linear")
                        .build();
            case 1:
                return CodebookLinear.codebookBuilder()
                        .setWeight(weight(new Shape(5, 7), 2, CodebookMode.SCALED, 2, manager))
                        .optBias(false)
                        .optInputShape(manager == null ? null : new Shape(3, 7))
                        .optLayerName("fuzz/scaled")
                        .build();
            default:
                return CodebookConvolution.builder()
                        .setKernelShape(new Shape(3, 3))
                        .setFilters(4)
                        .optBiasArray(manager == null ? null : manager.arange(4f))
                        .setWeight(weight(new Shape(4, 2, 3, 3), 4, CodebookMode.MULTI, 2, manager))
                        .optInputShape(manager == null ? null : new Shape(1, 2, 6, 6))
                        .optLayerName("fuzz/conv2d")
                        .build();
        }
    }

    private static CodebookWeight weight(Shape shape, int bits, CodebookMode mode, int groups, NDManager manager) {
        return manager == null
                ? new CodebookWeight(shape, bits, mode, groups)
                : CodebookWeight.of(CodebookBlocksTest.random(shape, bits, mode, groups, bits), manager);
    }
}
