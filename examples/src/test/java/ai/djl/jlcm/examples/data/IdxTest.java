package ai.djl.jlcm.examples.data;

import org.testng.Assert;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

public class IdxTest {

    private Path dir;

    @BeforeClass
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("idx-test");
    }

    @AfterClass
    public void tearDown() throws IOException {
        RegistryFetcher.deleteRecursively(dir);
    }

    static byte[] imageFile(int magic, int count, int rows, int cols, byte[] pixels)
            throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bos)) {
            out.writeInt(magic);
            out.writeInt(count);
            out.writeInt(rows);
            out.writeInt(cols);
            out.write(pixels);
        }
        return bos.toByteArray();
    }

    static byte[] labelFile(int magic, byte[] labels) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bos)) {
            out.writeInt(magic);
            out.writeInt(labels.length);
            out.write(labels);
        }
        return bos.toByteArray();
    }

    static void write(Path file, byte[] content, boolean gzip) throws IOException {
        try (OutputStream out =
                gzip
                        ? new GZIPOutputStream(Files.newOutputStream(file))
                        : Files.newOutputStream(file)) {
            out.write(content);
        }
    }

    private static byte[] pixels() {
        // 2 images of 2x3: 0, 1, 2, ..., and 255 at the very end
        byte[] p = new byte[12];
        for (int i = 0; i < p.length; i++) {
            p[i] = (byte) (i * 20);
        }
        p[11] = (byte) 255;
        return p;
    }

    @Test
    public void readsImagesPlainAndGzipped() throws IOException {
        for (boolean gzip : new boolean[] {false, true}) {
            Path file = dir.resolve("img" + gzip);
            write(file, imageFile(Idx.IMAGE_MAGIC, 2, 2, 3, pixels()), gzip);
            Idx.Images images = Idx.readImages(file);
            Assert.assertEquals(images.count(), 2);
            Assert.assertEquals(images.rows(), 2);
            Assert.assertEquals(images.cols(), 3);
            Assert.assertEquals(images.pixels(), pixels());
            float[] f = images.toFloats();
            Assert.assertEquals(f.length, 12);
            Assert.assertEquals(f[0], 0f);
            Assert.assertEquals(f[1], 20f / 255f, 1e-7f);
            Assert.assertEquals(f[10], 200f / 255f, 1e-7f);
            Assert.assertEquals(f[11], 1f); // 0xFF is unsigned 255, not -1
        }
    }

    @Test
    public void readsLabelsPlainAndGzipped() throws IOException {
        byte[] labels = {7, 2, 1, 0, 4, (byte) 200};
        for (boolean gzip : new boolean[] {false, true}) {
            Path file = dir.resolve("lab" + gzip + ".gz");
            write(file, labelFile(Idx.LABEL_MAGIC, labels), gzip);
            byte[] read = Idx.readLabels(file);
            Assert.assertEquals(read, labels);
            Assert.assertEquals(read[5] & 0xFF, 200);
        }
    }

    @Test
    public void rejectsBadMagic() throws IOException {
        Path labelsAsImages = dir.resolve("swapped");
        write(labelsAsImages, labelFile(Idx.LABEL_MAGIC, new byte[] {1, 2}), false);
        IOException e =
                Assert.expectThrows(IOException.class, () -> Idx.readImages(labelsAsImages));
        Assert.assertTrue(e.getMessage().contains("magic 2049"), e.getMessage());

        Path imagesAsLabels = dir.resolve("swapped2");
        write(imagesAsLabels, imageFile(Idx.IMAGE_MAGIC, 2, 2, 3, pixels()), true);
        e = Assert.expectThrows(IOException.class, () -> Idx.readLabels(imagesAsLabels));
        Assert.assertTrue(e.getMessage().contains("magic 2051"), e.getMessage());
    }

    @Test
    public void rejectsTruncatedAndTrailingData() throws IOException {
        byte[] full = imageFile(Idx.IMAGE_MAGIC, 2, 2, 3, pixels());
        Path truncated = dir.resolve("truncated");
        byte[] cut = new byte[full.length - 1];
        System.arraycopy(full, 0, cut, 0, cut.length);
        write(truncated, cut, false);
        IOException e = Assert.expectThrows(IOException.class, () -> Idx.readImages(truncated));
        Assert.assertTrue(
                e.getMessage().contains("expected 12 data bytes, found 11"), e.getMessage());

        Path trailing = dir.resolve("trailing");
        byte[] longer = new byte[full.length + 1];
        System.arraycopy(full, 0, longer, 0, full.length);
        write(trailing, longer, true);
        e = Assert.expectThrows(IOException.class, () -> Idx.readImages(trailing));
        Assert.assertTrue(e.getMessage().contains("trailing"), e.getMessage());

        Path header = dir.resolve("header");
        write(header, new byte[] {0, 0, 8, 3, 0, 0}, false);
        e = Assert.expectThrows(IOException.class, () -> Idx.readImages(header));
        Assert.assertTrue(e.getMessage().contains("Truncated IDX header"), e.getMessage());
    }

    @Test
    public void rejectsNegativeCount() throws IOException {
        Path file = dir.resolve("negative");
        write(file, imageFile(Idx.IMAGE_MAGIC, -1, 2, 3, new byte[0]), false);
        IOException e = Assert.expectThrows(IOException.class, () -> Idx.readImages(file));
        Assert.assertTrue(e.getMessage().contains("count=-1"), e.getMessage());
    }
}
