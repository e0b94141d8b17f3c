package ai.djl.jlcm.examples.cli;

import ai.djl.jlcm.export.Manifest;
import ai.djl.jlcm.export.ModelDirectory;
import ai.djl.jlcm.export.ModelSize;
import ai.djl.jlcm.nn.CodebookBlock;
import ai.djl.jlcm.nn.CodebookWeight;
import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.util.Pair;

import com.google.gson.JsonObject;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** Loads a model directory through {@code Criteria} and prints one row per layer with parameters. */
@Command(
        name = "inspect",
        mixinStandardHelpOptions = true,
        description = {
            "Per-layer table of a (compressed) model directory, loaded through Criteria.",
            "Ends with one JSON line on standard output."
        })
final class InspectCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "DIR", description = "the model directory")
    Path dir;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("not a directory: " + dir);
        }
        ModelDirectory.recover(dir);
        if (ModelDirectories.paramsBytes(dir) == 0 && !Files.exists(dir.resolve(Manifest.FILE_NAME))) {
            throw new IllegalArgumentException(
                    dir + " is not a model directory: it holds no " + Manifest.FILE_NAME + " and no .params file");
        }
        TextTable table;
        ModelSize size;
        try (ZooModel<NDList, NDList> model = ModelDirectories.load(dir)) {
            table = layerTable(model.getBlock());
            size = ModelSize.of(model.getBlock());
        }
        long fileBytes = ModelDirectories.paramsBytes(dir);
        System.out.print(table);
        System.out.printf(
                Locale.ROOT,
                "%d compressed layers, %.3f bits/weight over their %d weights (indices, group ids, codebooks, scales);"
                        + " %d bytes of parameters, %d bytes of .params; %.3f bits per parameter, whole model%n",
                size.compressedLayers(),
                size.bitsPerWeight(),
                size.compressedWeights(),
                size.storedBytes(),
                fileBytes,
                size.modelBitsPerWeight());
        JsonObject json = new JsonObject();
        json.addProperty("bits_per_weight", size.bitsPerWeight());
        json.addProperty("model_bits_per_weight", size.modelBitsPerWeight());
        json.addProperty("stored_bytes", size.storedBytes());
        json.addProperty("file_bytes", fileBytes);
        json.addProperty("layers", table.size());
        json.addProperty("compressed_layers", size.compressedLayers());
        System.out.println(json);
        return 0;
    }

    /**
     * Returns one row per block with parameters: its path, type, weight shape, index width (32 for
     * float), weights per index (vector length), groups, mode and stored bytes.
     *
     * @param root the model's block
     * @return the table
     */
    static TextTable layerTable(Block root) {
        TextTable table = new TextTable("path", "type", "shape", "bits", "vector", "groups", "mode", "stored bytes");
        for (Map.Entry<String, Block> e : BlockTree.of(root).blocks().entrySet()) {
            Block b = e.getValue();
            if (b.getDirectParameters().isEmpty()) {
                continue;
            }
            long bytes = 0;
            for (Pair<String, Parameter> p : b.getDirectParameters()) {
                NDArray a = p.getValue().getArray();
                bytes += a.size() * a.getDataType().getNumOfBytes();
            }
            if (b instanceof CodebookBlock) {
                CodebookWeight w = ((CodebookBlock) b).getCodebookWeight();
                table.add(e.getKey(), b.getClass().getSimpleName(), w.getShape(), w.getBits(), w.getVectorLength(),
                        w.getGroups(), w.getMode().name().toLowerCase(Locale.ROOT), bytes);
            } else {
                Parameter weight = b.getDirectParameters().get(b.getDirectParameters().keys().get(0));
                table.add(e.getKey(), b.getClass().getSimpleName(), weight.getArray().getShape(),
                        32, "-", "-", "float", bytes);
            }
        }
        return table;
    }
}
