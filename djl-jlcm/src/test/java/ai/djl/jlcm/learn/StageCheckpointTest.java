package ai.djl.jlcm.learn;

import ai.djl.Model;
import ai.djl.jlcm.ChildJvm;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** A run killed after a stage's checkpoint resumes from it and gives the uninterrupted run's model. */
public class StageCheckpointTest {

    /** Stages: conv (a layer), relu, flatten, linear (a layer), relu, linear (a layer). */
    private static final int KILL_AFTER = 3;

    /**
     * Compresses the seeded test network deterministically (with a work directory unless null) and
     * exports it.
     */
    static JlcmReport compressAndExport(Path work, Path out) {
        return compressAndExport(work, out, 2, null);
    }

    private static JlcmReport compressAndExport(Path work, Path out, int bits, ai.djl.util.Progress bar) {
        return compressAndExport(work, out, bits, 1, bar);
    }

    private static JlcmReport compressAndExport(Path work, Path out, int bits, int vectorLength, ai.djl.util.Progress bar) {
        try (Model model = Model.newInstance("ckpt", "PyTorch")) {
            model.setBlock(
                    new SequentialBlock()
                            .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(6).build())
                            .add(Activation.reluBlock())
                            .add(Blocks.batchFlattenBlock())
                            .add(Linear.builder().setUnits(24).build())
                            .add(Activation.reluBlock())
                            .add(Linear.builder().setUnits(10).build()));
            NDManager m = model.getNDManager();
            model.getBlock().initialize(m, DataType.FLOAT32, new Shape(1, 1, 8, 8));
            Random random = new Random(7);
            model.getBlock().getParameters().values().forEach(p -> p.getArray().set(gaussian(random, p.getArray().size(), 0.3f)));
            List<NDList> calibration = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                calibration.add(new NDList(m.create(gaussian(random, 12 * 64, 1f), new Shape(12, 1, 8, 8))));
            }
            JlcmReport report =
                    Jlcm.builder().optBits(bits).optVectorLength(vectorLength).optGroups(2).optSteps(15).optDeterministic(true).optWorkDir(work)
                            .optProgress(bar).build()
                            .compress(model, calibration);
            if (out != null) {
                ModelExporter.builder().build().export(model, out);
            }
            return report;
        } catch (java.io.IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static float[] gaussian(Random r, long n, float scale) {
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian() * scale;
        }
        return v;
    }

    @Test
    public void aRunKilledAfterAStageResumesToTheUninterruptedModel() throws Exception {
        Path root = Files.createTempDirectory("jlcm-ckpt");
        Path work = root.resolve("work");
        Path uninterrupted = root.resolve("uninterrupted");
        JlcmReport whole = compressAndExport(null, uninterrupted);

        ChildJvm.killAt(KilledCompression.class, KilledCompression.MARK, work.toString(), Integer.toString(KILL_AFTER));
        Assert.assertEquals(names(work), List.of(StageCheckpoint.MANIFEST, "stage-000.params", "stage-001.params",
                "stage-002.params", "stage-003.params", "streams-003.bin"));

        List<Integer> written = new ArrayList<>();
        StageCheckpoint.afterWrite = written::add;
        JlcmReport resumed;
        Path out = root.resolve("resumed");
        try {
            resumed = compressAndExport(work, out);
        } finally {
            StageCheckpoint.afterWrite = s -> {};
        }
        Assert.assertEquals(written, List.of(4, 5), "only the stages after the checkpoint ran");
        Assert.assertEquals(names(out), names(uninterrupted));
        for (String name : names(out)) {
            Assert.assertEquals(Files.readAllBytes(out.resolve(name)), Files.readAllBytes(uninterrupted.resolve(name)), name);
        }
        Assert.assertEquals(resumed.layers().size(), whole.layers().size());
        for (int i = 0; i < whole.layers().size(); i++) {
            Assert.assertEquals(resumed.layers().get(i).learnedError(), whole.layers().get(i).learnedError());
        }
        Assert.assertEquals(resumed.stages().size(), 6);

        // a finished checkpoint: a rerun only reloads it; another plan is refused
        StageCheckpoint.afterWrite = written::add;
        try {
            compressAndExport(work, null);
        } finally {
            StageCheckpoint.afterWrite = s -> {};
        }
        Assert.assertEquals(written, List.of(4, 5));
        UncheckedIOException e = Assert.expectThrows(UncheckedIOException.class, () -> compressAndExport(work, null, 3, null));
        Assert.assertTrue(e.getMessage().contains("checkpoint of another run: its plan differs"), e.getMessage());
    }

    /** Vector codebooks (three weights a codeword, all rows here divide) restore from a finished checkpoint. */
    @Test
    public void vectorCodebooksRestoreFromAFinishedCheckpoint() throws Exception {
        Path root = Files.createTempDirectory("jlcm-ckpt-vectors");
        Path work = root.resolve("work");
        JlcmReport first = compressAndExport(work, root.resolve("first"), 2, 3, null);
        List<Integer> written = new ArrayList<>();
        StageCheckpoint.afterWrite = written::add;
        JlcmReport again;
        try {
            again = compressAndExport(work, root.resolve("again"), 2, 3, null);
        } finally {
            StageCheckpoint.afterWrite = s -> {};
        }
        Assert.assertEquals(written, List.of(), "a finished checkpoint only reloads");
        for (int i = 0; i < first.layers().size(); i++) {
            Assert.assertEquals(again.layers().get(i).vectorLength(), 3);
            Assert.assertEquals(again.layers().get(i).bits(), 6);
            Assert.assertEquals(again.layers().get(i).learnedError(), first.layers().get(i).learnedError());
        }
        for (String name : names(root.resolve("first"))) {
            Assert.assertEquals(Files.readAllBytes(root.resolve("again").resolve(name)), Files.readAllBytes(root.resolve("first").resolve(name)), name);
        }
    }

    /** The bar is reset for each stage with layers, counts its weights, and ends at its total. */
    @Test
    public void theProgressBarCountsEachStagesWeights() {
        List<String> events = new ArrayList<>();
        ai.djl.util.Progress bar =
                new ai.djl.util.Progress() {
                    @Override
                    public void reset(String message, long max, String trailing) {
                        events.add(message + " " + max);
                    }

                    @Override
                    public void start(long initial) {}

                    @Override
                    public void end() {
                        events.add("end");
                    }

                    @Override
                    public void increment(long n) {}

                    @Override
                    public void update(long progress, String message) {
                        Assert.assertTrue(message.contains("ETA"), message);
                        events.add(Long.toString(progress));
                    }
                };
        compressAndExport(null, null, 2, bar);
        Assert.assertEquals(events, List.of("01Conv2d 54", "54", "end", "04Linear 5184", "5184", "end", "06Linear 240", "240", "end"));
    }

    @Test
    public void aWorkDirectoryWithOtherFilesIsRefused() throws Exception {
        Path work = Files.createTempDirectory("jlcm-ckpt-foreign");
        Files.writeString(work.resolve("notes.txt"), "mine");
        UncheckedIOException e = Assert.expectThrows(UncheckedIOException.class, () -> compressAndExport(work, null));
        Assert.assertTrue(e.getMessage().contains("notes.txt"), e.getMessage());
        Assert.assertEquals(names(work), List.of("notes.txt"));
    }

    private static List<String> names(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }
}
