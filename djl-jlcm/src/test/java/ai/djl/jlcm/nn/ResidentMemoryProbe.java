package ai.djl.jlcm.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Resident memory of one 30522×768 3-bit codebook Linear (the size of BERT's word table) over four
 * 1×128-token passes in a memory mode. Not a test: run by hand, with a pre-touched heap so that the
 * figures are native memory:
 *
 * <pre>
 * java -Xms1g -Xmx1g -XX:+AlwaysPreTouch -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 \
 *     -cp djl-jlcm/target/test-classes:examples/target/jlcm.jar ai.djl.jlcm.nn.ResidentMemoryProbe packed
 * </pre>
 */
public final class ResidentMemoryProbe {

    private ResidentMemoryProbe() {}

    /**
     * Runs the probe.
     *
     * @param args the memory mode: packed, byte, fp16 or fp32
     * @throws IOException if {@code /proc/self/status} cannot be read
     */
    public static void main(String[] args) throws IOException {
        MemoryMode mode = MemoryMode.fromKey(args.length > 0 ? args[0] : "packed");
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(30522, 768);
            CompressedWeight w = CodebookBlocksTest.random(shape, 3, CodebookMode.MULTI, 4, 1);
            CodebookLinear block =
                    CodebookLinear.codebookBuilder()
                            .setWeight(CodebookWeight.of(w, m))
                            .optBias(false)
                            .optMemoryMode(mode)
                            .build();
            NDArray x = m.randomNormal(new Shape(1, 128, 768));
            Linear.linear(m.randomNormal(new Shape(64, 64)), m.randomNormal(new Shape(64, 64)), null);
            long base = kb("VmRSS");
            for (int i = 0; i < 4; i++) {
                try (NDManager step = m.newSubManager()) {
                    NDArray xi = x.duplicate();
                    xi.attach(step);
                    block.forward(new ParameterStore(step, false), new NDList(xi), false);
                }
                System.out.printf(
                        "%s pass %d: resident +%d MB, peak +%d MB, held %d MB%n",
                        mode.key(),
                        i,
                        (kb("VmRSS") - base) / 1024,
                        (kb("VmHWM") - base) / 1024,
                        block.getCodebookWeight().heldBytes() >> 20);
            }
        }
    }

    private static long kb(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).replace("kB", "").trim());
            }
        }
        throw new IOException("no " + field + " in /proc/self/status");
    }
}
