package ai.djl.jlcm.loading;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.jlcm.export.Digests;
import ai.djl.jlcm.export.JlcmBlockFactory;
import ai.djl.jlcm.export.Manifest;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.nn.MemoryMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.translate.NoopTranslator;

import org.testng.Assert;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Comparator;
import java.util.HashMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

public class CompressingBlockFactoryTest {

    private static final String FACTORY = TinyCnn.Factory.class.getName();

    private Path root;
    private Path floatDir;
    private NDManager data;
    private NDArray x;

    @BeforeClass
    public void setUp() throws IOException {
        root = Files.createTempDirectory("jlcm-loading");
        floatDir = root.resolve("float");
        TinyCnn.save(floatDir, "tiny", Map.of("engine", "PyTorch", "blockFactory", FACTORY, "option.modelName", "tiny"));
        data = NDManager.newBaseManager("PyTorch");
        x = data.randomNormal(new Shape(4, 1, 12, 12));
    }

    @AfterClass
    public void tearDown() throws IOException {
        data.close();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
                Files.delete(p);
            }
        }
    }

    private static ZooModel<NDList, NDList> load(Path dir, Map<String, ?> arguments) throws Exception {
        return Criteria.builder()
                .setTypes(NDList.class, NDList.class)
                .optModelPath(dir)
                .optArguments(new HashMap<>(arguments))
                .optTranslator(new NoopTranslator())
                .build()
                .loadModel();
    }

    private float[] predict(ZooModel<NDList, NDList> model) throws Exception {
        try (Predictor<NDList, NDList> p = model.newPredictor()) {
            return p.predict(new NDList(x)).singletonOrThrow().toFloatArray();
        }
    }

    /** The float model loaded the ordinary way and compressed in process with k-means. */
    private float[] reference(Path dir, int bits, int groups, CodebookMode mode) throws Exception {
        try (ZooModel<NDList, NDList> model = load(dir, Map.of("blockFactory", FACTORY))) {
            CodebookTransformer.builder()
                    .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(groups).optMode(mode).build()))
                    .optBits(bits)
                    .build()
                    .transform(model.getBlock());
            try (NDManager m = data.newSubManager()) {
                NDArray in = x.duplicate();
                in.attach(m);
                return model.getBlock().forward(new ParameterStore(m, false), new NDList(in), false)
                        .singletonOrThrow().toFloatArray();
            }
        }
    }

    private static int codebookBlocks(Block block) {
        int n = 0;
        for (Block b : BlockTree.of(block).blocks().values()) {
            if (b instanceof CodebookBlock) {
                n++;
            }
        }
        return n;
    }

    private static List<Path> entries(Path cache) throws IOException {
        try (Stream<Path> s = Files.list(cache)) {
            return s.filter(Files::isDirectory)
                    .filter(p -> !p.getFileName().toString().startsWith("."))
                    .sorted()
                    .collect(Collectors.toList());
        }
    }

    private static Object fileKey(Path entry) throws IOException {
        return Files.readAttributes(entry.resolve("tiny-0000.params"), BasicFileAttributes.class).fileKey();
    }

    private static String messages(Throwable t) {
        StringBuilder all = new StringBuilder();
        for (; t != null; t = t.getCause()) {
            all.append(t.getMessage()).append(" | ");
        }
        return all.toString();
    }

    private static String loadError(Path dir, Map<String, ?> arguments) {
        Exception e = Assert.expectThrows(Exception.class, () -> load(dir, arguments).close());
        return messages(e);
    }

    /** A plan given to the builder reaches the loaded model and its cache entry: per-path bits over the keys'. */
    @Test
    public void aBuilderPlanSetsPerPathBits() throws Exception {
        Path cache = root.resolve("cache-plan");
        CompressionPlan plan =
                CompressionPlan.builder().optForPath("^06Linear$", LayerSettings.builder().optBits(6).build()).build();
        CompressingBlockFactory factory = CompressingBlockFactory.builder().optBits(2).optPlan(plan).optCacheDir(cache).build();
        try (ZooModel<NDList, NDList> model = load(floatDir, Map.of("blockFactory", factory))) {
            Map<String, Block> blocks = BlockTree.of(model.getBlock()).blocks();
            Assert.assertEquals(((CodebookBlock) blocks.get("01Conv2d")).getCodebookWeight().getBits(), 2);
            Assert.assertEquals(((CodebookBlock) blocks.get("04Linear")).getCodebookWeight().getBits(), 2);
            Assert.assertEquals(((CodebookBlock) blocks.get("06Linear")).getCodebookWeight().getBits(), 6);
        }
        java.util.Properties recorded = new java.util.Properties();
        recorded.load(new java.io.StringReader(Files.readString(entries(cache).get(0).resolve("serving.properties"))));
        Assert.assertTrue(recorded.getProperty("jlcm.cache.plan").contains("path /^06Linear$/: bits=6"), recorded.toString());
    }

    @Test
    public void firstLoadCompressesAndLaterLoadsReadTheCache() throws Exception {
        Path cache = root.resolve("cache-basic");
        CompressingBlockFactory factory = CompressingBlockFactory.builder().optCacheDir(cache).build();
        float[] expected = reference(floatDir, 4, 4, CodebookMode.MULTI);

        float[] first;
        try (ZooModel<NDList, NDList> model = load(floatDir, Map.of("blockFactory", factory))) {
            Assert.assertTrue(model.getBlock() instanceof SequentialBlock, "the stand-in block is gone");
            Assert.assertEquals(codebookBlocks(model.getBlock()), 3);
            first = predict(model);
        }
        Assert.assertEquals(first, expected, 0f);
        List<Path> entries = entries(cache);
        Assert.assertEquals(entries.size(), 1);
        Path entry = entries.get(0);
        Assert.assertTrue(entry.getFileName().toString().startsWith("tiny-"), entry.toString());
        Object written = fileKey(entry);

        try (ZooModel<NDList, NDList> model = load(floatDir, Map.of("blockFactory", factory))) {
            Assert.assertEquals(codebookBlocks(model.getBlock()), 3);
            Assert.assertEquals(predict(model), expected, 0f);
        }
        Assert.assertEquals(fileKey(entry), written, "the second load read the entry and did not rewrite it");

        // the entry is an ordinary compressed model directory
        try (ZooModel<NDList, NDList> model = load(entry, Map.of())) {
            Assert.assertEquals(predict(model), expected, 0f);
        }
    }

    @Test
    public void aCacheHitNeverMakesArraysOfTheFloatWeights() throws Exception {
        Path cache = root.resolve("cache-no-dense");
        List<Block> built = new ArrayList<>();
        CompressingBlockFactory factory =
                CompressingBlockFactory.builder()
                        .optFloatBlock(() -> {
                            Block b = TinyCnn.block();
                            built.add(b);
                            return b;
                        })
                        .optCacheDir(cache)
                        .build();
        float[] first;
        try (ZooModel<NDList, NDList> model = load(floatDir, Map.of("blockFactory", factory))) {
            first = predict(model);
        }
        built.clear();
        try (ZooModel<NDList, NDList> model = load(floatDir, Map.of("blockFactory", factory))) {
            Assert.assertEquals(predict(model), first, 0f);
        }
        // the first tree is the float tree DJL's stream was meant for; a parameter that was ever read
        // keeps its shape after it is closed: none was read
        List<Shape> floatWeights = weightShapes(built.get(0));
        Assert.assertEquals(floatWeights.size(), 3, floatWeights.toString());
        Assert.assertTrue(floatWeights.stream().allMatch(java.util.Objects::isNull), floatWeights.toString());
        try (java.util.stream.Stream<Path> files = Files.list(cache)) {
            Assert.assertTrue(files.noneMatch(f -> f.getFileName().toString().endsWith(".spool")), "the spool file is gone");
        }
    }

    private static List<Shape> weightShapes(Block tree) {
        List<Shape> shapes = new ArrayList<>();
        for (ai.djl.util.Pair<String, ai.djl.nn.Parameter> p : tree.getParameters()) {
            if (p.getKey().endsWith("weight")) {
                shapes.add(p.getValue().getShape());
            }
        }
        return shapes;
    }

    @Test
    public void corruptAndStaleEntriesAreRebuiltNeverUsed() throws Exception {
        Path cache = root.resolve("cache-corrupt");
        Map<String, ?> args = Map.of("blockFactory", CompressingBlockFactory.builder().optCacheDir(cache).build());
        float[] expected;
        try (ZooModel<NDList, NDList> model = load(floatDir, args)) {
            expected = predict(model);
        }
        Path entry = entries(cache).get(0);
        Path params = entry.resolve("tiny-0000.params");

        // a flipped byte in the cached parameters
        byte[] bytes = Files.readAllBytes(params);
        bytes[bytes.length - 7] ^= 0x5A;
        Files.write(params, bytes);
        Object corrupted = fileKey(entry);
        try (ZooModel<NDList, NDList> model = load(floatDir, args)) {
            Assert.assertEquals(predict(model), expected, 0f);
        }
        Assert.assertNotEquals(fileKey(entry), corrupted, "rebuilt");
        Manifest manifest = Manifest.read(entry.resolve(Manifest.FILE_NAME));
        Digests.checkFile(params, manifest.paramsBytes(), manifest.paramsSha256());

        // a truncated parameter file, then an unreadable manifest
        Files.write(params, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        try (ZooModel<NDList, NDList> model = load(floatDir, args)) {
            Assert.assertEquals(predict(model), expected, 0f);
        }
        Files.writeString(entry.resolve(Manifest.FILE_NAME), "{not json");
        try (ZooModel<NDList, NDList> model = load(floatDir, args)) {
            Assert.assertEquals(predict(model), expected, 0f);
        }
        Manifest.read(entry.resolve(Manifest.FILE_NAME));

        // a stale entry: its recorded key is not this load's (another library version, say)
        Path props = entry.resolve("serving.properties");
        String text = Files.readString(props);
        String key = text.replaceAll("(?s).*jlcm\\.cache\\.key=([0-9a-f]+).*", "$1");
        Files.writeString(props, text.replace(key, "0".repeat(key.length())));
        Object stale = fileKey(entry);
        try (ZooModel<NDList, NDList> model = load(floatDir, args)) {
            Assert.assertEquals(predict(model), expected, 0f);
        }
        Assert.assertNotEquals(fileKey(entry), stale, "rebuilt");
        Assert.assertTrue(Files.readString(props).contains(key));
        Assert.assertEquals(entries(cache).size(), 1);
    }

    @Test
    public void otherFloatParametersOrSettingsGetTheirOwnEntry() throws Exception {
        Path cache = root.resolve("cache-keys");
        Path other = root.resolve("float-other");
        TinyCnn.save(other, "tiny", Map.of("engine", "PyTorch", "blockFactory", FACTORY, "option.modelName", "tiny"));
        CompressingBlockFactory factory = CompressingBlockFactory.builder().optCacheDir(cache).build();
        try (ZooModel<NDList, NDList> a = load(floatDir, Map.of("blockFactory", factory));
                ZooModel<NDList, NDList> b = load(other, Map.of("blockFactory", factory))) {
            Assert.assertEquals(predict(a), reference(floatDir, 4, 4, CodebookMode.MULTI), 0f);
            Assert.assertEquals(predict(b), reference(other, 4, 4, CodebookMode.MULTI), 0f);
        }
        Assert.assertEquals(entries(cache).size(), 2);
        CompressingBlockFactory twoBits =
                CompressingBlockFactory.builder().optCacheDir(cache).optBits(2).optGroups(2).build();
        try (ZooModel<NDList, NDList> a = load(floatDir, Map.of("blockFactory", twoBits))) {
            Assert.assertEquals(predict(a), reference(floatDir, 2, 2, CodebookMode.MULTI), 0f);
        }
        Assert.assertEquals(entries(cache).size(), 3);
    }

    @Test
    public void servingPropertiesAloneSelectAndConfigureTheTransform() throws Exception {
        Path dir = root.resolve("float-props");
        Path cache = root.resolve("cache-props");
        Map<String, String> serving = new HashMap<>();
        serving.put("engine", "PyTorch");
        serving.put("option.modelName", "tiny");
        serving.put("blockFactory", CompressingBlockFactory.class.getName());
        serving.put("jlcm.blockFactory", FACTORY);
        serving.put("jlcm.bits", "3");
        serving.put("jlcm.groups", "2");
        serving.put("jlcm.mode", "scaled");
        serving.put("jlcm.cacheDir", cache.toString());
        TinyCnn.save(dir, "tiny", serving);
        float[] expected = reference(dir, 3, 2, CodebookMode.SCALED);
        for (int i = 0; i < 2; i++) {
            try (ZooModel<NDList, NDList> model = load(dir, Map.of())) {
                Assert.assertEquals(codebookBlocks(model.getBlock()), 3);
                Assert.assertEquals(predict(model), expected, 0f);
                Assert.assertTrue(model.getProperty("blockFactory").contains("CompressingBlockFactory"));
            }
        }
        Assert.assertEquals(entries(cache).size(), 1);
        // a Criteria argument wins over the file, like any DJL argument
        try (ZooModel<NDList, NDList> model = load(dir, Map.of("jlcm.bits", "5", "jlcm.mode", "multi"))) {
            Assert.assertEquals(predict(model), reference(dir, 5, 2, CodebookMode.MULTI), 0f);
        }
    }

    @Test
    public void withoutCacheEveryLoadCompressesAndNothingIsWritten() throws Exception {
        Path cache = root.resolve("cache-off");
        CompressingBlockFactory factory =
                CompressingBlockFactory.builder().optCacheDir(cache).optCacheEnabled(false).optLayers("linear").build();
        try (ZooModel<NDList, NDList> model = load(floatDir, Map.of("blockFactory", factory))) {
            Assert.assertEquals(codebookBlocks(model.getBlock()), 2);
            predict(model);
        }
        Assert.assertFalse(Files.exists(cache));
    }

    @Test
    public void aBlockFromCodeReplacesOptBlock() throws Exception {
        Path dir = root.resolve("bare").resolve("tiny"); // no serving.properties: the name is the directory's
        TinyCnn.save(dir, "tiny", Map.of());
        Path cache = root.resolve("cache-supplier");
        CompressingBlockFactory factory =
                CompressingBlockFactory.builder().optFloatBlock(TinyCnn::block).optCacheDir(cache).build();
        for (int i = 0; i < 2; i++) {
            try (ZooModel<NDList, NDList> model = load(dir, Map.of("blockFactory", factory))) {
                Assert.assertEquals(predict(model), reference(floatDirLike(dir), 4, 4, CodebookMode.MULTI), 0f);
            }
        }
    }

    /** The same parameters in a directory whose serving.properties names the float factory. */
    private Path floatDirLike(Path dir) throws IOException {
        Path copy = root.resolve(dir.getParent().getFileName() + "-named");
        if (!Files.exists(copy)) {
            Files.createDirectories(copy);
            Files.copy(dir.resolve("tiny-0000.params"), copy.resolve("tiny-0000.params"));
            TinyCnn.writeProperties(
                    copy.resolve("serving.properties"),
                    Map.of("engine", "PyTorch", "blockFactory", FACTORY, "option.modelName", "tiny"));
        }
        return copy;
    }

    private static void assertMemoryMode(Block tree, MemoryMode expected) {
        int n = 0;
        for (Block b : BlockTree.of(tree).blocks().values()) {
            if (b instanceof CodebookBlock) {
                Assert.assertEquals(((CodebookBlock) b).getCodebookWeight().getMemoryMode(), expected, b.toString());
                n++;
            }
        }
        Assert.assertTrue(n > 0, "no codebook block");
    }

    @Test
    public void memoryModeReachesTheBlocksOfEveryLoadPath() throws Exception {
        Path cache = root.resolve("cache-memory");
        float[] expected = reference(floatDir, 4, 4, CodebookMode.MULTI);
        List<NDList> calibration = List.of(new NDList(data.randomNormal(new Shape(8, 1, 12, 12))));
        CompressingBlockFactory[] factories = {
            CompressingBlockFactory.builder().optCacheDir(cache).optMemoryMode(MemoryMode.CACHE_FP16).build(),
            CompressingBlockFactory.builder().optCacheEnabled(false).optMemoryMode(MemoryMode.CACHE_FP16).build(),
            CompressingBlockFactory.builder()
                    .optCalibration(calibration)
                    .optSteps(1)
                    .optCacheEnabled(false)
                    .optMemoryMode(MemoryMode.CACHE_FP16)
                    .build()
        };
        // k-means compressing and writing the cache, k-means read from the cache, without cache, JLCM
        CompressingBlockFactory[] loads = {factories[0], factories[0], factories[1], factories[2]};
        for (int i = 0; i < loads.length; i++) {
            try (ZooModel<NDList, NDList> model = load(floatDir, Map.of("blockFactory", loads[i]))) {
                assertMemoryMode(model.getBlock(), MemoryMode.CACHE_FP16);
                float[] got = predict(model);
                if (i < 3) {
                    for (int j = 0; j < got.length; j++) {
                        Assert.assertEquals(got[j], expected[j], 2e-3 * (1 + Math.abs(expected[j])), "load " + i);
                    }
                }
            }
        }
        // a compressed directory (the cache entry) with the key as a Criteria argument
        Path entry = entries(cache).get(0);
        try (ZooModel<NDList, NDList> model = load(entry, Map.of("jlcm.memoryMode", "byte"))) {
            assertMemoryMode(model.getBlock(), MemoryMode.BYTE_INDICES);
            Assert.assertEquals(predict(model), expected, 1e-5f);
        }
        String error = loadError(entry, Map.of("jlcm.memoryMode", "bf16"));
        Assert.assertTrue(error.contains("jlcm.memoryMode=bf16") && error.contains("packed|byte|fp16|fp32"), error);
        error = loadError(entry, Map.of("jlcm.cacheDecodedWeight", "true"));
        Assert.assertTrue(error.contains("replaced by jlcm.memoryMode"), error);
    }

    @Test
    public void calibratedJlcmFromJavaAndFromAFile() throws Exception {
        List<NDList> calibration =
                List.of(new NDList(data.randomNormal(new Shape(8, 1, 12, 12))), new NDList(data.randomNormal(new Shape(8, 1, 12, 12))));
        Path cache = root.resolve("cache-jlcm");
        CompressingBlockFactory factory =
                CompressingBlockFactory.builder().optCalibration(calibration).optSteps(3).optBits(2).optCacheDir(cache).build();
        float[] first;
        try (ZooModel<NDList, NDList> model = load(floatDir, Map.of("blockFactory", factory))) {
            Assert.assertEquals(codebookBlocks(model.getBlock()), 3);
            first = predict(model);
        }
        try (ZooModel<NDList, NDList> model = load(floatDir, Map.of("blockFactory", factory))) {
            Assert.assertEquals(predict(model), first, 0f);
        }
        Assert.assertEquals(entries(cache).size(), 1);
        String record = Files.readString(entries(cache).get(0).resolve("serving.properties"));
        // the whole plan (every learning setting) and the code itself are in the key, not only the jlcm.* keys
        java.util.Properties recorded = new java.util.Properties();
        recorded.load(new java.io.StringReader(record));
        String learning = recorded.getProperty("jlcm.cache.plan");
        Assert.assertTrue(learning.contains("method=jlcm"), learning);
        Assert.assertTrue(learning.contains("mapping=proximal") && learning.contains("dampening=0.01"), learning);
        Assert.assertTrue(recorded.getProperty("jlcm.cache.library").matches("\\S+ sha256:[0-9a-f]{64}"), record);

        // the same from serving.properties, with the inputs in an NDList file of the model directory
        Path dir = root.resolve("float-calibrated");
        Files.createDirectories(dir);
        Files.copy(floatDir.resolve("tiny-0000.params"), dir.resolve("tiny-0000.params"));
        Files.write(dir.resolve("calibration.ndlist"), new NDList(data.randomNormal(new Shape(16, 1, 12, 12))).encode());
        Map<String, String> serving = new HashMap<>();
        serving.put("engine", "PyTorch");
        serving.put("option.modelName", "tiny");
        serving.put("blockFactory", CompressingBlockFactory.class.getName());
        serving.put("jlcm.blockFactory", FACTORY);
        serving.put("jlcm.calibration", "calibration.ndlist");
        serving.put("jlcm.calibrationBatch", "8");
        serving.put("jlcm.steps", "3");
        serving.put("jlcm.bits", "2");
        serving.put("jlcm.cacheDir", cache.toString());
        TinyCnn.writeProperties(dir.resolve("serving.properties"), serving);
        try (ZooModel<NDList, NDList> model = load(dir, Map.of())) {
            Assert.assertEquals(codebookBlocks(model.getBlock()), 3);
            predict(model);
        }
        Assert.assertEquals(entries(cache).size(), 2, "other calibration inputs, other entry");
    }

    @Test
    public void errorsNameTheKeyOrPathAndNeverFallBackToFloat() throws Exception {
        Path cache = root.resolve("cache-errors");
        Path dir = root.resolve("float-errors");
        Map<String, String> serving = new HashMap<>();
        serving.put("engine", "PyTorch");
        serving.put("option.modelName", "tiny");
        serving.put("blockFactory", CompressingBlockFactory.class.getName());
        serving.put("jlcm.blockFactory", FACTORY);
        serving.put("jlcm.cacheDir", cache.toString());
        serving.put("jlcm.bitz", "2");
        TinyCnn.save(dir, "tiny", serving);
        Path servingFile = dir.resolve("serving.properties");

        String m = loadError(dir, Map.of());
        Assert.assertTrue(m.contains("Unknown key jlcm.bitz (in " + servingFile + "); did you mean jlcm.bits?"), m);

        serving.remove("jlcm.bitz");
        serving.put("jlcm.mode", "grouped");
        TinyCnn.writeProperties(servingFile, serving);
        m = loadError(dir, Map.of());
        Assert.assertTrue(m.contains("Invalid jlcm.mode=grouped (in " + servingFile + "): must be one of scaled, multi"), m);

        serving.remove("jlcm.mode");
        TinyCnn.writeProperties(servingFile, serving);
        m = loadError(dir, Map.of("jlcm.bits", "eight"));
        Assert.assertTrue(m.contains("Invalid jlcm.bits=eight (a Criteria argument): not an integer"), m);

        m = loadError(dir, Map.of("jlcm.minWeights", "1000000000"));
        Assert.assertTrue(m.contains("selects no layer of model 'tiny': jlcm.minWeights=1000000000 (a Criteria argument)"), m);
        Assert.assertTrue(m.contains("04Linear (Linear, 6400 weights)"), m);
        m = loadError(dir, Map.of("jlcm.layers", "conv1d"));
        Assert.assertTrue(m.contains("selects no layer") && m.contains("jlcm.layers=conv1d"), m);

        Path file = root.resolve("not-a-directory");
        Files.writeString(file, "x");
        m = loadError(dir, Map.of("jlcm.cacheDir", file.resolve("cache").toString()));
        Assert.assertTrue(m.contains("Cannot write the JLCM cache directory " + file.resolve("cache")), m);
        Assert.assertTrue(m.contains("jlcm.cacheDir (a Criteria argument)"), m);

        m = loadError(dir, Map.of("jlcm.blockFactory", "no.such.Factory"));
        Assert.assertTrue(m.contains("Invalid jlcm.blockFactory=no.such.Factory (a Criteria argument): no BlockFactory class"), m);

        Path bare = root.resolve("no-factory").resolve("tiny");
        TinyCnn.save(bare, "tiny", Map.of());
        m = loadError(bare, Map.of("blockFactory", CompressingBlockFactory.builder().optCacheDir(cache).build()));
        Assert.assertTrue(m.contains("needs the float model's block tree: set jlcm.blockFactory"), m);

        // a compressed directory is not compressed again
        Path compressed = root.resolve("compressed-dir");
        try (Model model = Model.newInstance("tiny", "PyTorch")) {
            model.setBlock(TinyCnn.block());
            model.getBlock().initialize(model.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32, TinyCnn.INPUT);
            CodebookTransformer.builder().optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(1).build())).build().transform(model.getBlock());
            ModelExporter.builder().build().export(model, compressed);
        }
        m = loadError(compressed, Map.of("blockFactory", CompressingBlockFactory.builder().optCacheDir(cache).build()));
        Assert.assertTrue(m.contains("already compressed") && m.contains(JlcmBlockFactory.class.getName()), m);

        Assert.assertFalse(Files.exists(cache) && !entries(cache).isEmpty(), "no failed load wrote an entry");
    }

    @Test
    public void concurrentLoadsCompressOnceAndAgree() throws Exception {
        Path cache = root.resolve("cache-concurrent");
        CompressingBlockFactory factory = CompressingBlockFactory.builder().optCacheDir(cache).build();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(3);
        try {
            List<java.util.concurrent.Future<float[]>> outs = new java.util.ArrayList<>();
            for (int i = 0; i < 3; i++) {
                outs.add(pool.submit(() -> {
                    try (ZooModel<NDList, NDList> model = load(floatDir, Map.of("blockFactory", factory))) {
                        return predict(model);
                    }
                }));
            }
            float[] expected = reference(floatDir, 4, 4, CodebookMode.MULTI);
            for (java.util.concurrent.Future<float[]> f : outs) {
                Assert.assertEquals(f.get(), expected, 0f);
            }
        } finally {
            pool.shutdown();
        }
        Assert.assertEquals(entries(cache).size(), 1);
    }

    @Test
    public void aLoadThatReadsNoParametersCannotPredictFloat() throws Exception {
        CompressingBlockFactory factory =
                CompressingBlockFactory.builder().optCacheDir(root.resolve("cache-noparams")).build();
        try (ZooModel<NDList, NDList> model =
                Criteria.builder()
                        .setTypes(NDList.class, NDList.class)
                        .optModelPath(floatDir)
                        .optArgument("blockFactory", factory)
                        .optOption("hasParameter", "false")
                        .optTranslator(new NoopTranslator())
                        .build()
                        .loadModel()) {
            Exception e = Assert.expectThrows(Exception.class, () -> predict(model));
            Assert.assertTrue(messages(e).contains("was not compressed"), messages(e));
        }
    }
}
