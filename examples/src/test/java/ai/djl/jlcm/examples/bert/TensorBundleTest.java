package ai.djl.jlcm.examples.bert;

import ai.djl.jlcm.examples.data.RegistryFetcher;

import org.testng.Assert;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class TensorBundleTest {

    private Path dir;

    @BeforeMethod
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("bundle-test");
    }

    @AfterMethod
    public void tearDown() throws IOException {
        RegistryFetcher.deleteRecursively(dir);
    }

    private Map<String, BundleWriter.Tensor> three() {
        Map<String, BundleWriter.Tensor> t = new LinkedHashMap<>();
        t.put("net/dense/kernel", new BundleWriter.Tensor(new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}));
        t.put("net/dense/bias", new BundleWriter.Tensor(new long[] {3}, new float[] {-1.5f, 0f, 1e-7f}));
        t.put("net/scalar", new BundleWriter.Tensor(new long[0], new float[] {42f}));
        return t;
    }

    @Test
    public void readsWhatWasWritten() throws IOException {
        Path prefix = dir.resolve("variables");
        BundleWriter.write(prefix, three(), 100);
        TensorBundle b = TensorBundle.open(prefix);
        Assert.assertEquals(b.names(), List.of("net/dense/bias", "net/dense/kernel", "net/scalar"));
        Assert.assertEquals(b.entry("net/dense/kernel").shape(), new long[] {2, 3});
        Assert.assertEquals(b.entry("net/dense/bias").shape(), new long[] {3});
        Assert.assertEquals(b.entry("net/scalar").shape(), new long[0]);
        Assert.assertEquals(b.entry("net/dense/kernel").dtype(), TensorBundle.DT_FLOAT);
        Assert.assertEquals(b.readFloats("net/dense/kernel"), new float[] {1, 2, 3, 4, 5, 6});
        Assert.assertEquals(b.readFloats("net/dense/bias"), new float[] {-1.5f, 0f, 1e-7f});
        Assert.assertEquals(b.readFloats("net/scalar"), new float[] {42f});
        Assert.assertEquals(b.getDataSize(), 4L * 10);
        Assert.assertTrue(b.contains("net/scalar"));
        Assert.assertFalse(b.contains(""), "the header entry is not a tensor");
        Assert.expectThrows(IllegalArgumentException.class, () -> b.entry("nope"));
    }

    @Test
    public void readsManyBlocksAndSharedPrefixes() throws IOException {
        Map<String, BundleWriter.Tensor> t = new LinkedHashMap<>();
        for (int i = 0; i < 23; i++) {
            float[] v = new float[i + 1];
            Arrays.fill(v, i);
            t.put("model/layer_" + i + "/w", new BundleWriter.Tensor(new long[] {i + 1}, v));
        }
        Path prefix = dir.resolve("many");
        BundleWriter.write(prefix, t, 5);
        TensorBundle b = TensorBundle.open(prefix);
        Assert.assertEquals(b.names().size(), 23);
        for (int i = 0; i < 23; i++) {
            float[] v = b.readFloats("model/layer_" + i + "/w");
            Assert.assertEquals(v.length, i + 1);
            Assert.assertEquals(v[i], (float) i);
        }
    }

    @Test
    public void corruptedDataFailsItsChecksum() throws IOException {
        Path prefix = dir.resolve("variables");
        BundleWriter.write(prefix, three(), 100);
        Path data = dir.resolve("variables.data-00000-of-00001");
        byte[] bytes = Files.readAllBytes(data);
        bytes[5] ^= 0x10; // inside the first tensor in key order (net/dense/bias)
        Files.write(data, bytes);
        TensorBundle b = TensorBundle.open(prefix);
        IOException e = Assert.expectThrows(IOException.class, () -> b.readFloats("net/dense/bias"));
        Assert.assertTrue(e.getMessage().contains("crc32c"), e.getMessage());
        Assert.assertTrue(e.getMessage().contains("net/dense/bias"), e.getMessage());
        Assert.assertEquals(b.readFloats("net/scalar"), new float[] {42f});
    }

    @Test
    public void corruptedIndexIsReportedClearly() throws IOException {
        Path prefix = dir.resolve("variables");
        BundleWriter.write(prefix, three(), 100);
        Path index = dir.resolve("variables.index");
        byte[] good = Files.readAllBytes(index);

        byte[] flipped = good.clone();
        flipped[20] ^= 0x01; // inside the data block: the block checksum catches it
        Files.write(index, flipped);
        IOException e = Assert.expectThrows(IOException.class, () -> TensorBundle.open(prefix));
        Assert.assertTrue(e.getMessage().startsWith("Malformed tensor bundle index " + index), e.getMessage());
        Assert.assertTrue(e.getMessage().contains("checksum"), e.getMessage());

        Files.write(index, Arrays.copyOf(good, good.length - 10));
        e = Assert.expectThrows(IOException.class, () -> TensorBundle.open(prefix));
        Assert.assertTrue(e.getMessage().contains("magic"), e.getMessage());

        Files.write(index, Arrays.copyOf(good, 30));
        e = Assert.expectThrows(IOException.class, () -> TensorBundle.open(prefix));
        Assert.assertTrue(e.getMessage().contains("footer"), e.getMessage());

        byte[] magic = good.clone();
        magic[magic.length - 1] ^= 0x7f;
        Files.write(index, magic);
        e = Assert.expectThrows(IOException.class, () -> TensorBundle.open(prefix));
        Assert.assertTrue(e.getMessage().contains("magic"), e.getMessage());
    }

    @Test
    public void truncatedDataFileIsReportedAtOpen() throws IOException {
        Path prefix = dir.resolve("variables");
        BundleWriter.write(prefix, three(), 100);
        Path data = dir.resolve("variables.data-00000-of-00001");
        byte[] bytes = Files.readAllBytes(data);
        Files.write(data, Arrays.copyOf(bytes, bytes.length - 4));
        IOException e = Assert.expectThrows(IOException.class, () -> TensorBundle.open(prefix));
        Assert.assertTrue(e.getMessage().contains("outside the 36-byte data file"), e.getMessage());
    }

    @Test
    public void missingFilesAreNamed() throws IOException {
        IOException e =
                Assert.expectThrows(IOException.class, () -> TensorBundle.open(dir.resolve("none")));
        Assert.assertTrue(e.getMessage().contains("none.index"), e.getMessage());
    }
}
