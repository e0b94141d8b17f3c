package ai.djl.jlcm.it;

import ai.djl.Application;
import ai.djl.inference.Predictor;
import ai.djl.jlcm.loading.CompressingBlockFactory;
import ai.djl.jlcm.nn.CodebookBlock;
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
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A model from a DJL model zoo: a local repository whose {@code metadata.json} names the artifact's
 * files and its {@code blockFactory} argument, as DJL's own zoo does, loaded by group and artifact
 * id and compressed by adding the factory to the Criteria.
 */
public class ZooLoadTest {

    private static final String GROUP = "ai.djl.jlcm.test";

    private Path root;
    private String version;
    private NDManager data;
    private NDArray x;

    @BeforeClass
    public void setUp() throws IOException {
        root = Files.createTempDirectory("jlcm-zoo");
        // DJL copies zoo artifacts into its cache by repository path: a fresh version per run
        version = "1.0." + (System.currentTimeMillis() % 1_000_000_000L);
        Path artifactDir = root.resolve("repo/model/cv/image_classification/ai/djl/jlcm/test/mnist-cnn");
        ServingCnn.saveParameters(artifactDir.resolve(version));
        String metadata =
                "{\n"
                        + "  \"metadataVersion\": \"0.2\",\n"
                        + "  \"resourceType\": \"model\",\n"
                        + "  \"application\": \"cv/image_classification\",\n"
                        + "  \"groupId\": \"" + GROUP + "\",\n"
                        + "  \"artifactId\": \"mnist-cnn\",\n"
                        + "  \"name\": \"mnist-cnn\",\n"
                        + "  \"artifacts\": [{\n"
                        + "    \"version\": \"" + version + "\",\n"
                        + "    \"snapshot\": false,\n"
                        + "    \"name\": \"mnist-cnn\",\n"
                        + "    \"arguments\": {\"blockFactory\": \"" + ServingCnn.Factory.class.getName() + "\"},\n"
                        + "    \"files\": {\"parameters\": {\"uri\": \"" + version + "/mnist-cnn-0000.params\","
                        + " \"name\": \"mnist-cnn-0000.params\"}}\n"
                        + "  }]\n"
                        + "}\n";
        Files.writeString(artifactDir.resolve("metadata.json"), metadata);
        data = NDManager.newBaseManager("PyTorch");
        x = data.randomNormal(new Shape(2, 1, 28, 28));
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

    private Criteria.Builder<NDList, NDList> zoo() {
        return Criteria.builder()
                .setTypes(NDList.class, NDList.class)
                .optModelUrls(root.resolve("repo").toUri().toString())
                .optApplication(Application.CV.IMAGE_CLASSIFICATION)
                .optArtifactId("mnist-cnn")
                .optTranslator(new NoopTranslator());
    }

    private float[] predict(ZooModel<NDList, NDList> model) throws Exception {
        try (Predictor<NDList, NDList> p = model.newPredictor()) {
            return p.predict(new NDList(x)).singletonOrThrow().toFloatArray();
        }
    }

    private static int codebookBlocks(Block block) {
        int n = 0;
        for (Block b : BlockTree.of(block).blocks().values()) {
            n += b instanceof CodebookBlock ? 1 : 0;
        }
        return n;
    }

    @Test
    public void zooModelIsCompressedByOneCriteriaArgument() throws Exception {
        float[] expected;
        try (ZooModel<NDList, NDList> model = zoo().build().loadModel()) {
            Assert.assertEquals(codebookBlocks(model.getBlock()), 0, "the zoo model is float");
            CodebookTransformer.builder()
                    .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(4).build()))
                    .optBits(4)
                    .build()
                    .transform(model.getBlock());
            try (NDManager m = data.newSubManager()) {
                NDArray in = x.duplicate();
                in.attach(m);
                expected = model.getBlock().forward(new ParameterStore(m, false), new NDList(in), false)
                        .singletonOrThrow().toFloatArray();
            }
        }
        Path cache = root.resolve("cache");
        // the zoo's blockFactory argument is replaced by ours: name the float factory once
        CompressingBlockFactory jlcm =
                CompressingBlockFactory.builder()
                        .optFloatBlockFactory(new ServingCnn.Factory())
                        .optCacheDir(cache)
                        .build();
        for (int i = 0; i < 2; i++) {
            try (ZooModel<NDList, NDList> model = zoo().optArgument("blockFactory", jlcm).build().loadModel()) {
                Assert.assertEquals(codebookBlocks(model.getBlock()), 4);
                Assert.assertEquals(predict(model), expected, 0f);
            }
        }
        // or by class name, as a plain argument
        try (ZooModel<NDList, NDList> model =
                zoo().optArgument("blockFactory", CompressingBlockFactory.class.getName())
                        .optArgument("jlcm.blockFactory", ServingCnn.Factory.class.getName())
                        .optArgument("jlcm.cacheDir", cache.toString())
                        .build()
                        .loadModel()) {
            Assert.assertEquals(predict(model), expected, 0f);
        }
        try (Stream<Path> s = Files.list(cache)) {
            List<Path> entries = s.filter(p -> !p.getFileName().toString().startsWith(".")).collect(Collectors.toList());
            Assert.assertEquals(entries.size(), 1, entries.toString());
        }

        // without the float factory the load fails and says what to set; it never returns the float model
        Exception e =
                Assert.expectThrows(
                        Exception.class,
                        () -> zoo().optArgument("blockFactory", CompressingBlockFactory.builder().optCacheDir(cache).build())
                                .build()
                                .loadModel()
                                .close());
        StringBuilder all = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            all.append(t.getMessage()).append(" | ");
        }
        Assert.assertTrue(all.toString().contains("set jlcm.blockFactory"), all.toString());
    }
}
