package ai.djl.jlcm.it;

import ai.djl.inference.Predictor;
import ai.djl.jlcm.export.JlcmBlockFactory;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.loading.CompressingBlockFactory;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.modality.Input;
import ai.djl.modality.Output;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.translate.NoopTranslator;
import ai.djl.translate.Translator;
import ai.djl.util.ZipUtils;

import org.testng.Assert;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Loads models the way DJL Serving does — {@code Criteria} of {@link Input}/{@link Output} over a
 * {@code file:} URL of a model directory or a zipped one — and compares the predictions with the
 * model compressed in process:
 *
 * <ul>
 *   <li>a compressed model directory (ModelExporter's: {@code blockFactory=JlcmBlockFactory});
 *   <li>a float model directory whose serving.properties selects {@link CompressingBlockFactory}
 *       with {@code jlcm.*} keys, first compressing, then from the cache.
 * </ul>
 */
public class ServingLoadTest {

    private Path root;
    private Path floatDir;
    private Path jlcmDir;
    private Path compressedDir;
    private Path cacheDir;
    private NDManager data;
    private NDArray x;
    private float[] expected;

    @BeforeClass
    public void setUp() throws Exception {
        root = Files.createTempDirectory("jlcm-serving");
        cacheDir = root.resolve("jlcm-cache");

        // the float model directory as it is deployed today
        floatDir = root.resolve("mnist-cnn-float");
        ServingCnn.saveParameters(floatDir);
        ServingCnn.writeServingProperties(floatDir, floatServingProperties());

        // the same directory made a compressed deployment by editing serving.properties
        jlcmDir = root.resolve("mnist-cnn-jlcm");
        Files.createDirectories(jlcmDir);
        Files.copy(floatDir.resolve("mnist-cnn-0000.params"), jlcmDir.resolve("mnist-cnn-0000.params"));
        ServingCnn.writeServingProperties(jlcmDir, jlcmServingProperties(cacheDir));

        data = NDManager.newBaseManager("PyTorch");
        x = data.randomNormal(new Shape(4, 1, 28, 28));

        // the in-process compressed model: the float model loaded the ordinary way, then transformed
        compressedDir = root.resolve("mnist-cnn-4bit");
        try (ZooModel<NDList, NDList> model =
                Criteria.builder()
                        .setTypes(NDList.class, NDList.class)
                        .optModelPath(floatDir)
                        .optTranslator(new NoopTranslator())
                        .build()
                        .loadModel()) {
            CodebookTransformer.builder()
                    .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(4).optMode(CodebookMode.MULTI).build()))
                    .optBits(4)
                    .build()
                    .transform(model.getBlock());
            try (NDManager m = data.newSubManager()) {
                NDArray in = x.duplicate();
                in.attach(m);
                expected = model.getBlock().forward(new ParameterStore(m, false), new NDList(in), false)
                        .singletonOrThrow().toFloatArray();
            }
            ModelExporter.builder().build().export(model, compressedDir);
        }
    }

    /** serving.properties of the float model directory. */
    static Map<String, String> floatServingProperties() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("engine", "PyTorch");
        p.put("option.modelName", ServingCnn.NAME);
        p.put("blockFactory", ServingCnn.Factory.class.getName());
        return p;
    }

    /** serving.properties of the float model directory, edited to deploy it compressed. */
    static Map<String, String> jlcmServingProperties(Path cacheDir) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("engine", "PyTorch");
        p.put("option.modelName", ServingCnn.NAME);
        p.put("blockFactory", CompressingBlockFactory.class.getName());
        p.put("jlcm.blockFactory", ServingCnn.Factory.class.getName());
        p.put("jlcm.bits", "4");
        p.put("jlcm.groups", "4");
        p.put("jlcm.mode", "multi");
        p.put("jlcm.cacheDir", cacheDir.toString());
        return p;
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

    /** Loads as DJL Serving does: Input/Output types and a model URL, the translator optional. */
    private static ZooModel<Input, Output> serve(Path dirOrZip, Translator<Input, Output> translator)
            throws Exception {
        Criteria.Builder<Input, Output> builder =
                Criteria.builder().setTypes(Input.class, Output.class).optModelUrls(dirOrZip.toUri().toString());
        if (translator != null) {
            builder.optTranslator(translator);
        }
        return builder.build().loadModel();
    }

    private float[] request(ZooModel<Input, Output> model) throws Exception {
        Input input = new Input();
        input.addProperty("Content-Type", "tensor/ndlist");
        input.add(new NDList(x).encode());
        try (Predictor<Input, Output> predictor = model.newPredictor()) {
            Output output = predictor.predict(input);
            Assert.assertEquals(output.getCode(), 200, output.getMessage());
            try (NDManager m = data.newSubManager()) {
                return NDList.decode(m, output.getData().getAsBytes()).singletonOrThrow().toFloatArray();
            }
        }
    }

    private static int codebookBlocks(Block block) {
        int n = 0;
        for (Block b : BlockTree.of(block).blocks().values()) {
            n += b instanceof CodebookBlock ? 1 : 0;
        }
        return n;
    }

    private List<Path> cacheEntries() throws IOException {
        try (Stream<Path> s = Files.list(cacheDir)) {
            return s.filter(Files::isDirectory).filter(p -> !p.getFileName().toString().startsWith(".")).collect(Collectors.toList());
        }
    }

    @Test
    public void compressedDirectoryServesTheInProcessPrediction() throws Exception {
        Assert.assertTrue(
                Files.readString(compressedDir.resolve("serving.properties"))
                        .contains("blockFactory=" + JlcmBlockFactory.class.getName()));
        try (ZooModel<Input, Output> model = serve(compressedDir, null)) {
            Assert.assertEquals(codebookBlocks(model.getBlock()), 4);
            Assert.assertEquals(request(model), expected, 0f);
        }
        try (ZooModel<Input, Output> model = serve(compressedDir, new NDListServingTranslator())) {
            Assert.assertEquals(request(model), expected, 0f);
        }
    }

    @Test
    public void floatDirectoryWithJlcmKeysServesTheInProcessPrediction() throws Exception {
        for (int load = 0; load < 2; load++) { // the first load compresses, the second reads the cache
            try (ZooModel<Input, Output> model = serve(jlcmDir, load == 0 ? null : new NDListServingTranslator())) {
                Assert.assertEquals(codebookBlocks(model.getBlock()), 4);
                Assert.assertEquals(request(model), expected, 0f);
            }
            Assert.assertEquals(cacheEntries().size(), 1);
        }
    }

    @Test
    public void zippedDirectoriesServeTheInProcessPrediction() throws Exception {
        for (Path dir : List.of(compressedDir, jlcmDir)) {
            Path zip = root.resolve(dir.getFileName() + ".zip");
            ZipUtils.zip(dir, zip, false);
            try (ZooModel<Input, Output> model = serve(zip, new NDListServingTranslator())) {
                Assert.assertEquals(codebookBlocks(model.getBlock()), 4);
                Assert.assertEquals(request(model), expected, 0f);
            }
        }
    }

    @Test
    public void aBadKeyFailsTheServingLoadWithTheKeyNamed() throws Exception {
        Path bad = root.resolve("mnist-cnn-bad");
        Files.createDirectories(bad);
        Files.copy(floatDir.resolve("mnist-cnn-0000.params"), bad.resolve("mnist-cnn-0000.params"));
        Map<String, String> p = jlcmServingProperties(cacheDir);
        p.put("jlcm.bits", "16");
        ServingCnn.writeServingProperties(bad, p);
        Exception e = Assert.expectThrows(Exception.class, () -> serve(bad, null).close());
        StringBuilder all = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            all.append(t.getMessage()).append(" | ");
        }
        Assert.assertTrue(
                all.toString().contains("Invalid jlcm.bits=16 (in " + bad.resolve("serving.properties") + "): must be from 1 to 8"),
                all.toString());
    }
}
