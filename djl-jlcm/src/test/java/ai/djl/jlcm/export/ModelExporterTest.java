package ai.djl.jlcm.export;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Blocks;
import ai.djl.nn.LambdaBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

public class ModelExporterTest {

    private static SequentialBlock cnn() {
        return new SequentialBlock()
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(8).optStride(new Shape(2, 2)).build())
                .add(Activation.reluBlock())
                .add(Blocks.batchFlattenBlock())
                .add(Linear.builder().setUnits(64).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(10).build());
    }

    /** A compressed model, its test input and its output before saving. */
    private static Model compressed(NDManager data) {
        Model model = Model.newInstance("tiny", "PyTorch");
        model.setBlock(cnn());
        model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 12, 12));
        CodebookTransformer.builder()
                .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(4).optMode(CodebookMode.SCALED).build()))
                .optBits(3)
                .build()
                .transform(model.getBlock());
        return model;
    }

    private static float[] predict(Model model, NDArray x) {
        try (NDManager m = x.getManager().newSubManager()) {
            NDArray in = x.duplicate();
            in.attach(m);
            return model.getBlock().forward(new ParameterStore(m, false), new NDList(in), false)
                    .singletonOrThrow().toFloatArray();
        }
    }

    private static ZooModel<NDList, NDList> load(Path dir) throws Exception {
        return TinyModels.load(dir);
    }

    @Test
    public void savedDirectoryLoadsThroughCriteriaAndPredictsExactly() throws Exception {
        Path root = Files.createTempDirectory("jlcm-export");
        try (NDManager data = NDManager.newBaseManager();
                Model model = compressed(data)) {
            NDArray x = data.randomNormal(new Shape(4, 1, 12, 12));
            float[] before = predict(model, x);
            Path dir = root.resolve("tiny-3bit");
            ModelSize size = ModelExporter.builder().build().export(model, dir);

            Assert.assertTrue(Files.isRegularFile(dir.resolve("serving.properties")));
            Assert.assertTrue(Files.isRegularFile(dir.resolve(Manifest.FILE_NAME)));
            long fileBytes = Files.size(dir.resolve("tiny-0000.params"));
            Assert.assertTrue(fileBytes <= 1.02 * size.storedBytes() + 65536, fileBytes + " vs " + size.storedBytes());
            Assert.assertEquals(size.compressedLayers(), 3);
            try (Stream<Path> files = Files.list(root)) {
                Assert.assertEquals(files.map(p -> p.getFileName().toString()).sorted().collect(java.util.stream.Collectors.toList()),
                        java.util.List.of(".tiny-3bit.lock", "tiny-3bit"), "no temporary directory is left");
            }

            try (ZooModel<NDList, NDList> loaded = load(dir);
                    Predictor<NDList, NDList> p = loaded.newPredictor()) {
                float[] after = p.predict(new NDList(x)).singletonOrThrow().toFloatArray();
                Assert.assertEquals(after, before, 0f);
                Assert.assertEquals(ModelSize.of(loaded.getBlock()), size);
            }
        }
    }

    @Test
    public void aModelLoadedFromAFileCanBeCompressedAndExported() throws Exception {
        Path root = Files.createTempDirectory("jlcm-loaded");
        try (NDManager data = NDManager.newBaseManager();
                Model dense = Model.newInstance("dense", "PyTorch")) {
            dense.setBlock(cnn());
            dense.getBlock().initialize(dense.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 12, 12));
            dense.save(root.resolve("dense"), "dense");
            try (Model loaded = Model.newInstance("dense", "PyTorch")) {
                loaded.setBlock(cnn());
                loaded.load(root.resolve("dense"), "dense");
                CodebookTransformer.builder()
                        .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(1).build()))
                        .optBits(4)
                        .build()
                        .transform(loaded.getBlock());
                NDArray x = data.randomNormal(new Shape(2, 1, 12, 12));
                float[] before = predict(loaded, x);
                ModelExporter.builder().build().export(loaded, root.resolve("compressed"));
                try (ZooModel<NDList, NDList> reloaded = load(root.resolve("compressed"));
                        Predictor<NDList, NDList> p = reloaded.newPredictor()) {
                    Assert.assertEquals(p.predict(new NDList(x)).singletonOrThrow().toFloatArray(), before, 0f);
                }
            }
        }
    }

    @Test
    public void corruptedTruncatedAndMismatchedFilesAreReported() throws Exception {
        Path root = Files.createTempDirectory("jlcm-bad");
        try (NDManager data = NDManager.newBaseManager();
                Model model = compressed(data)) {
            Path good = root.resolve("good");
            ModelExporter.builder().build().export(model, good);
            Path params = good.resolve("tiny-0000.params");
            byte[] bytes = Files.readAllBytes(params);

            // corrupted: one byte flipped near the end (inside the last layer's arrays)
            Path corrupted = copy(good, root.resolve("corrupted"));
            byte[] flipped = bytes.clone();
            flipped[flipped.length - 10] ^= 0x5A;
            Files.write(corrupted.resolve("tiny-0000.params"), flipped);
            assertLoadFails(corrupted, "corrupted");

            // truncated
            Path truncated = copy(good, root.resolve("truncated"));
            Files.write(truncated.resolve("tiny-0000.params"), java.util.Arrays.copyOf(bytes, bytes.length / 2));
            assertLoadFails(truncated, "truncated");

            // manifest that does not match the tree: a layer path that does not exist
            Path mismatch = copy(good, root.resolve("mismatch"));
            Path manifest = mismatch.resolve(Manifest.FILE_NAME);
            Files.writeString(manifest, ManifestTest.resign(Files.readString(manifest).replace("\"04Linear\"", "\"09Linear\"")));
            assertLoadFails(mismatch, "09Linear");

            // manifest that says other bits than the parameter file holds: the layer is named
            Path bits = copy(good, root.resolve("bits"));
            manifest = bits.resolve(Manifest.FILE_NAME);
            String text = Files.readString(manifest);
            int at = text.indexOf("\"bits\": 3");
            Files.writeString(manifest, ManifestTest.resign(text.substring(0, at) + "\"bits\": 2" + text.substring(at + 9)));
            assertLoadFails(bits, "01Conv2d");

            // unreadable manifest
            Path garbage = copy(good, root.resolve("garbage"));
            Files.writeString(garbage.resolve(Manifest.FILE_NAME), "{not json", StandardCharsets.UTF_8);
            assertLoadFails(garbage, "malformed manifest");
        }
    }

    @Test
    public void undescribableArchitectureFailsBeforeWritingAnything() throws Exception {
        Path root = Files.createTempDirectory("jlcm-atomic");
        try (Model model = Model.newInstance("anon", "PyTorch")) {
            SequentialBlock block = cnn();
            block.add(new LambdaBlock(x -> x));
            model.setBlock(block);
            block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 12, 12));
            Path dir = root.resolve("out");
            IllegalArgumentException e =
                    Assert.expectThrows(
                            IllegalArgumentException.class,
                            () -> ModelExporter.builder().build().export(model, dir));
            Assert.assertTrue(e.getMessage().contains("07LambdaBlock"), e.getMessage());
            try (Stream<Path> files = Files.list(root)) {
                Assert.assertEquals(files.count(), 0);
            }
        }
    }

    /** A model that would not load (a NaN codeword, as a diverged fine-tuning leaves) is not written. */
    @Test
    public void aNonFiniteCodewordFailsBeforeWritingAnything() throws Exception {
        Path root = Files.createTempDirectory("jlcm-nan");
        try (NDManager data = NDManager.newBaseManager();
                Model model = compressed(data)) {
            NDArray codebook = model.getBlock().getChildren().get(3).getValue().getParameters().get("codebook").getArray();
            codebook.set(new ai.djl.ndarray.index.NDIndex("0, 1"), Float.NaN);
            Path dir = root.resolve("out");
            IllegalArgumentException e =
                    Assert.expectThrows(IllegalArgumentException.class, () -> ModelExporter.builder().build().export(model, dir));
            Assert.assertEquals(e.getMessage(), "Layer 04Linear: codebook holds a non-finite value: NaN");
            try (Stream<Path> files = Files.list(root)) {
                Assert.assertEquals(files.count(), 0);
            }
        }
    }

    private static void assertLoadFails(Path dir, String expected) {
        Exception e = Assert.expectThrows(Exception.class, () -> load(dir).close());
        Throwable t = e;
        StringBuilder all = new StringBuilder();
        while (t != null) {
            all.append(t.getMessage()).append(" | ");
            t = t.getCause();
        }
        Assert.assertTrue(
                e instanceof IllegalArgumentException || e instanceof MalformedModelException,
                e.getClass() + ": " + all);
        Assert.assertTrue(all.toString().contains(expected), all.toString());
    }

    private static Path copy(Path from, Path to) throws java.io.IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        return to;
    }
}
