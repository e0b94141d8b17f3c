package ai.djl.jlcm.examples.cli;

import ai.djl.Model;
import ai.djl.jlcm.export.ModelExporter;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

public class BenchCommandTest {

    /** Writes a 3-bit MLP (input 64, hidden 96, output 10) and returns its directory. */
    static Path compressedMlp(Path root) throws Exception {
        Path dir = root.resolve("mlp-3bit");
        try (Model model = Model.newInstance("mlp", "PyTorch")) {
            SequentialBlock net =
                    new SequentialBlock()
                            .add(Linear.builder().setUnits(96).build())
                            .add(Activation.reluBlock())
                            .add(Linear.builder().setUnits(10).build());
            model.setBlock(net);
            net.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 64));
            CodebookTransformer.builder()
                    .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(2).build()))
                    .optBits(3)
                    .build()
                    .transform(net);
            ModelExporter.builder().build().export(model, dir);
        }
        return dir;
    }

    @Test
    public void helpNamesTheOptions() {
        String help = CliRun.run(0, "bench", "--help")[0];
        for (String option : List.of("--batch", "--seq", "--iters", "--mode", "--float", "--ids", "--no-memory")) {
            Assert.assertTrue(help.contains(option), option + " missing from\n" + help);
        }
    }

    @Test
    public void benchReportsEveryModeAgainstTheDecodedModelAndMeasuresMemoryInChildJvms() throws Exception {
        Path dir = compressedMlp(Files.createTempDirectory("jlcm-bench"));
        String[] out = CliRun.run(0, "bench", dir.toString(), "--batch", "4", "--iters", "3", "--mode", "packed,byte,fp16,fp32");
        String[] lines = out[0].strip().split("\n");
        JsonObject json = JsonParser.parseString(lines[lines.length - 1]).getAsJsonObject();
        Assert.assertTrue(out[0].contains("| model"), out[0]);
        JsonArray rows = json.getAsJsonArray("rows");
        Assert.assertEquals(rows.size(), 5);
        Assert.assertEquals(json.get("batch").getAsInt(), 4);
        String[] modes = {"-", "packed", "byte", "fp16", "fp32"};
        for (int i = 0; i < rows.size(); i++) {
            JsonObject row = rows.get(i).getAsJsonObject();
            Assert.assertEquals(row.get("mode").getAsString(), modes[i]);
            Assert.assertTrue(row.get("median_ms").getAsDouble() > 0, row.toString());
            Assert.assertTrue(row.get("p90_ms").getAsDouble() >= row.get("median_ms").getAsDouble(), row.toString());
            // the same function as the decoded model: float32 modes exactly, fp16 to its precision
            double tol = "fp16".equals(modes[i]) ? 1e-2 : 1e-5;
            Assert.assertTrue(row.get("max_abs_diff").getAsDouble() <= tol, row.toString());
            Assert.assertTrue(row.get("baseline_mb").getAsDouble() > 50, "the engine's baseline: " + row);
            Assert.assertTrue(row.has("peak_mb") && row.has("load_mb"), row.toString());
        }
        Assert.assertEquals(rows.get(0).getAsJsonObject().get("latency_ratio").getAsDouble(), 1.0, 1e-9);
    }

    @Test
    public void badArgumentsAreNamed() throws Exception {
        Assert.assertTrue(CliRun.run(1, "bench", "no-such-dir")[1].contains("not a directory"));
        String err = CliRun.run(2, "bench", ".", "--mode", "bf16")[1];
        Assert.assertTrue(err.contains("packed|byte|fp16|fp32"), err);
    }
}
