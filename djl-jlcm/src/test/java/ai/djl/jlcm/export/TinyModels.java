package ai.djl.jlcm.export;

import ai.djl.Model;
import ai.djl.jlcm.nn.CodebookMode;
import ai.djl.jlcm.plan.CompressionPlan;
import ai.djl.jlcm.plan.LayerSettings;
import ai.djl.jlcm.plan.Method;
import ai.djl.jlcm.transform.CodebookTransformer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.translate.NoopTranslator;

import java.nio.file.Path;

/** Small compressed models for the export tests, seeded so that two seeds give two models. */
public final class TinyModels {

    static final Shape INPUT = new Shape(2, 8);

    private TinyModels() {}

    /** A 2-layer MLP with seeded weights, compressed to 3 bits. */
    static Model compressed(int seed) {
        Model model = Model.newInstance("tiny", "PyTorch");
        model.setBlock(
                new SequentialBlock()
                        .add(Linear.builder().setUnits(16).build())
                        .add(Activation.reluBlock())
                        .add(Linear.builder().setUnits(4).build()));
        model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, INPUT);
        try (NDManager m = model.getNDManager().newSubManager()) {
            m.getEngine().setRandomSeed(seed);
            model.getBlock().getParameters().values().forEach(p -> {
                NDArray a = p.getArray();
                a.set(m.randomNormal(a.getShape()).toFloatArray());
            });
        }
        CodebookTransformer.builder()
                .optPlan(CompressionPlan.of(LayerSettings.builder().optMethod(Method.KMEANS).optGroups(2).optMode(CodebookMode.MULTI).build()))
                .optBits(3)
                .build()
                .transform(model.getBlock());
        return model;
    }

    /** The fixed test input. */
    static NDArray input(NDManager manager) {
        float[] x = new float[(int) INPUT.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.sin(i + 1);
        }
        return manager.create(x, INPUT);
    }

    static float[] predict(Model model) {
        try (NDManager m = NDManager.newBaseManager()) {
            return model.getBlock()
                    .forward(new ParameterStore(m, false), new NDList(input(m)), false)
                    .singletonOrThrow()
                    .toFloatArray();
        }
    }

    /**
     * Loads a model directory through {@code Criteria}, {@code NDList} in and out.
     *
     * @param dir the directory
     * @return the model
     * @throws Exception if it does not load
     */
    public static ZooModel<NDList, NDList> load(Path dir) throws Exception {
        return Criteria.builder()
                .setTypes(NDList.class, NDList.class)
                .optModelPath(dir)
                .optEngine("PyTorch")
                .optTranslator(new NoopTranslator())
                .build()
                .loadModel();
    }
}
