package ai.djl.jlcm.export;

import ai.djl.Model;
import ai.djl.jlcm.ChildJvm;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * A child process for {@link ModelDirectoryTest}: exports the tiny model of seed {@code args[1]}
 * over {@code args[0]}, prints its output, and stops between the two renames of the replacement
 * (printing {@value #MARK}) until it is killed.
 */
public final class KilledExport {

    static final String MARK = "BETWEEN-RENAMES";

    private KilledExport() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        try (Model model = TinyModels.compressed(Integer.parseInt(args[1]))) {
            System.out.println("OUT " + Arrays.toString(TinyModels.predict(model)));
            ModelDirectory.betweenRenames = () -> ChildJvm.stopHere(MARK);
            ModelExporter.builder().optOverwrite(true).build().export(model, dir);
        }
        System.out.println("EXPORTED");
    }
}
