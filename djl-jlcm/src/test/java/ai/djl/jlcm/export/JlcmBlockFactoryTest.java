package ai.djl.jlcm.export;

import ai.djl.Model;
import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;

/** The load arguments of a compressed directory: what applies, what is refused and why. */
public class JlcmBlockFactoryTest {

    private static ZooModel<NDList, NDList> load(Path dir, String key, String value) throws Exception {
        return Criteria.builder()
                .setTypes(NDList.class, NDList.class)
                .optModelPath(dir)
                .optEngine("PyTorch")
                .optTranslator(new NoopTranslator())
                .optArgument(key, value)
                .build()
                .loadModel();
    }

    private static String failure(Path dir, String key, String value) {
        IllegalArgumentException e =
                Assert.expectThrows(IllegalArgumentException.class, () -> load(dir, key, value).close());
        return e.getMessage();
    }

    @Test
    public void keysThatWouldBeIgnoredAreRefused() throws Exception {
        Path dir = Files.createTempDirectory("jlcm-args").resolve("m");
        try (Model model = TinyModels.compressed(4)) {
            ModelExporter.builder().build().export(model, dir);
        }
        String m = failure(dir, "jlcm.bits", "2");
        Assert.assertTrue(m.startsWith("jlcm.bits=2 does not apply to " + dir) && m.contains("already compressed"), m);
        m = failure(dir, "jlcm.memoryMod", "fp32");
        Assert.assertTrue(m.startsWith("jlcm.memoryMod=fp32 does not apply"), m);
        Assert.assertTrue(m.contains(JlcmBlockFactory.MEMORY_MODE), m);
        m = failure(dir, JlcmBlockFactory.MEMORY_MODE, "yes");
        Assert.assertTrue(m.contains("Invalid jlcm.memoryMode=yes") && m.contains("allowed values"), m);
        m = failure(dir, "jlcm.cacheDecodedWeight", "true");
        Assert.assertTrue(m.contains("was replaced by jlcm.memoryMode"), m);

        try (ZooModel<NDList, NDList> ok = load(dir, JlcmBlockFactory.MEMORY_MODE, "fp32")) {
            Assert.assertNotNull(ok.getBlock());
        }
        try (ZooModel<NDList, NDList> ok = load(dir, "unrelated.key", "anything")) {
            Assert.assertNotNull(ok.getBlock());
        }
    }
}
