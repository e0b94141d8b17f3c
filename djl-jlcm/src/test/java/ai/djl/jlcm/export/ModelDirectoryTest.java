package ai.djl.jlcm.export;

import ai.djl.Model;
import ai.djl.jlcm.ChildJvm;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.ZooModel;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

public class ModelDirectoryTest {

    private static List<String> names(Path dir) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    private static float[] loadAndPredict(Path dir) throws Exception {
        try (ZooModel<NDList, NDList> m = TinyModels.load(dir);
                NDManager data = NDManager.newBaseManager()) {
            return m.newPredictor().predict(new NDList(TinyModels.input(data))).singletonOrThrow().toFloatArray();
        }
    }

    @Test
    public void aForeignNonEmptyDirectoryIsNeverReplaced() throws Exception {
        Path root = Files.createTempDirectory("jlcm-foreign");
        Path dir = root.resolve("thesis");
        Files.createDirectories(dir.resolve("sub"));
        Files.writeString(dir.resolve("thesis.txt"), "four years of work");
        try (Model model = TinyModels.compressed(1)) {
            IllegalArgumentException e =
                    Assert.expectThrows(
                            IllegalArgumentException.class,
                            () -> ModelExporter.builder().optOverwrite(true).build().export(model, dir));
            Assert.assertTrue(e.getMessage().contains("is not a model directory written by djl-jlcm"), e.getMessage());
            Assert.assertTrue(e.getMessage().contains("sub/") && e.getMessage().contains("thesis.txt"), e.getMessage());
        }
        Assert.assertEquals(Files.readString(dir.resolve("thesis.txt")), "four years of work");
        Assert.assertTrue(Files.isDirectory(dir.resolve("sub")));
        Assert.assertEquals(names(root), List.of("thesis"), "nothing is written beside it");
    }

    @Test
    public void aStagedWriteIsAllOrNothingAndMarksItsDirectoryAsOurs() throws Exception {
        Path root = Files.createTempDirectory("jlcm-write");
        try {
            Path dir = root.resolve("float-model");
            ModelDirectory.write(dir, false, tmp -> {
                Files.write(tmp.resolve("m-0000.params"), new byte[] {1, 2, 3});
                ModelDirectory.writeServingProperties(tmp.resolve("serving.properties"), java.util.Map.of("engine", "PyTorch"));
            });
            Assert.assertEquals(names(dir), List.of("m-0000.params", "serving.properties"));
            Assert.assertTrue(Files.readString(dir.resolve("serving.properties")).startsWith(ModelDirectory.MARKER + "\n"));
            Assert.assertTrue(ModelDirectory.isWrittenByUs(dir), "a float directory with the marker is ours");

            // refused without overwrite, before the contents are asked for
            Assert.expectThrows(IllegalArgumentException.class, () -> ModelDirectory.write(dir, false, tmp -> Assert.fail("called")));
            // a failing writer leaves the old directory and no staging directory
            Assert.expectThrows(
                    java.io.IOException.class,
                    () -> ModelDirectory.write(dir, true, tmp -> {
                        Files.write(tmp.resolve("m-0000.params"), new byte[] {9});
                        throw new java.io.IOException("disk full");
                    }));
            Assert.assertEquals(Files.readAllBytes(dir.resolve("m-0000.params")), new byte[] {1, 2, 3});
            ModelDirectory.write(dir, true, tmp -> Files.write(tmp.resolve("m-0001.params"), new byte[] {4}));
            Assert.assertEquals(names(dir), List.of("m-0001.params"));
            Assert.assertEquals(names(root), List.of(".float-model.lock", "float-model"));
        } finally {
            ModelDirectory.deleteRecursively(root);
        }
    }

    @Test
    public void aFileIsNeverTurnedIntoADirectory() throws Exception {
        Path root = Files.createTempDirectory("jlcm-file");
        Path file = root.resolve("some-file.txt");
        Files.writeString(file, "keep me");
        try (Model model = TinyModels.compressed(1)) {
            IllegalArgumentException e =
                    Assert.expectThrows(
                            IllegalArgumentException.class,
                            () -> ModelExporter.builder().optOverwrite(true).build().export(model, file));
            Assert.assertTrue(e.getMessage().contains("exists and is not a directory"), e.getMessage());
            Path below = file.resolve("model");
            e = Assert.expectThrows(IllegalArgumentException.class, () -> ModelDirectory.checkDestination(below, true));
            Assert.assertTrue(e.getMessage().contains("is not a directory"), e.getMessage());
        }
        Assert.assertEquals(Files.readString(file), "keep me");
    }

    @Test
    public void ourDirectoryIsReplacedOnlyWithOverwriteAndOnlyWhenItHoldsNothingElse() throws Exception {
        Path root = Files.createTempDirectory("jlcm-ours");
        Path dir = root.resolve("model");
        float[] first;
        float[] second;
        try (Model a = TinyModels.compressed(1);
                Model b = TinyModels.compressed(2)) {
            first = TinyModels.predict(a);
            second = TinyModels.predict(b);
            Assert.assertNotEquals(first, second);
            ModelExporter.builder().build().export(a, dir);
            Assert.assertTrue(ModelDirectory.isWrittenByUs(dir));

            IllegalArgumentException e =
                    Assert.expectThrows(
                            IllegalArgumentException.class, () -> ModelExporter.builder().build().export(b, dir));
            Assert.assertTrue(e.getMessage().contains("overwriting is off"), e.getMessage());
            Assert.assertEquals(loadAndPredict(dir), first, 0f);

            ModelExporter.builder().optOverwrite(true).build().export(b, dir);
            Assert.assertEquals(loadAndPredict(dir), second, 0f);
            Assert.assertEquals(names(root), List.of(".model.lock", "model"), "no staging directory is left");

            Files.writeString(dir.resolve("notes.txt"), "mine");
            Assert.assertFalse(ModelDirectory.isWrittenByUs(dir));
            e = Assert.expectThrows(
                    IllegalArgumentException.class,
                    () -> ModelExporter.builder().optOverwrite(true).build().export(a, dir));
            Assert.assertTrue(e.getMessage().contains("notes.txt"), e.getMessage());
            Assert.assertEquals(Files.readString(dir.resolve("notes.txt")), "mine");
            e = Assert.expectThrows(IllegalArgumentException.class, () -> ModelDirectory.delete(dir));
            Assert.assertTrue(e.getMessage().contains("Refusing to delete"), e.getMessage());
            Assert.assertTrue(Files.exists(dir.resolve("notes.txt")));

            Files.delete(dir.resolve("notes.txt"));
            ModelDirectory.delete(dir);
            Assert.assertFalse(Files.exists(dir));
        }
    }

    @Test
    public void anEmptyDirectoryIsFilled() throws Exception {
        Path dir = Files.createTempDirectory("jlcm-empty");
        try (Model model = TinyModels.compressed(3)) {
            ModelExporter.builder().build().export(model, dir);
            Assert.assertEquals(loadAndPredict(dir), TinyModels.predict(model), 0f);
        }
    }

    /** The three states a killed replacement can leave, each with its journal. */
    @Test
    public void recoveryFinishesOrUndoesEveryInterruptedReplacement() throws Exception {
        Path root = Files.createTempDirectory("jlcm-recover");
        Path a = root.resolve("a");
        Path b = root.resolve("b");
        float[] first;
        float[] second;
        try (Model ma = TinyModels.compressed(1);
                Model mb = TinyModels.compressed(2)) {
            first = TinyModels.predict(ma);
            second = TinyModels.predict(mb);
            ModelExporter.builder().build().export(ma, a);
            ModelExporter.builder().build().export(mb, b);
        }
        String u1 = "00000000-0000-0000-0000-000000000001";
        String u2 = "00000000-0000-0000-0000-000000000002";
        for (String state : List.of("before first rename", "between renames", "after second rename")) {
            Path root2 = Files.createTempDirectory("jlcm-state");
            Path dir = root2.resolve("m");
            Path staged = root2.resolve(".m.jlcm-new-" + u1);
            Path old = root2.resolve(".m.jlcm-old-" + u2);
            copy(a, "before first rename".equals(state) ? dir : old);
            if (!"after second rename".equals(state)) {
                copy(b, staged);
            } else {
                copy(b, dir);
            }
            Files.writeString(root2.resolve(".m.jlcm-swap"), "new=.m.jlcm-new-" + u1 + "\nold=.m.jlcm-old-" + u2 + "\n");
            // a killed writer's half-written staging directory, with no journal entry
            Files.createDirectories(root2.resolve(".m.jlcm-new-" + u2));
            Files.writeString(root2.resolve(".m.jlcm-new-" + u2).resolve("tiny-0000.params"), "half");

            boolean restored = ModelDirectory.recover(dir);
            Assert.assertEquals(restored, "between renames".equals(state), state);
            Assert.assertEquals(names(root2), List.of(".m.lock", "m"), state + ": leftovers are cleaned");
            float[] expected = "before first rename".equals(state) ? first : second;
            Assert.assertEquals(loadAndPredict(dir), expected, 0f, state);
        }
    }

    /** Kills a real export with SIGKILL exactly between its two renames, then recovers. */
    @Test
    public void killNineBetweenTheRenamesLosesNoModel() throws Exception {
        Path root = Files.createTempDirectory("jlcm-kill");
        Path dir = root.resolve("model");
        float[] first;
        try (Model a = TinyModels.compressed(1)) {
            first = TinyModels.predict(a);
            ModelExporter.builder().build().export(a, dir);
        }
        String out = null;
        for (String line : ChildJvm.killAt(KilledExport.class, KilledExport.MARK, dir.toString(), "2")) {
            if (line.startsWith("OUT ")) {
                out = line.substring(4);
            }
        }
        Assert.assertFalse(Files.exists(dir), "the kill hit the window: no directory at the path");
        Assert.assertTrue(Files.exists(root.resolve(".model.jlcm-swap")), "the journal survives the kill");

        Assert.assertTrue(ModelDirectory.recover(dir));
        float[] recovered = loadAndPredict(dir);
        Assert.assertEquals(Arrays.toString(recovered), out, "the new model is in place");
        Assert.assertNotEquals(recovered, first);
        Assert.assertEquals(names(root), List.of(".model.lock", "model"));
    }

    private static void copy(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        for (String name : names(from)) {
            Files.copy(from.resolve(name), to.resolve(name));
        }
    }
}
