package ai.djl.jlcm.learn;

import ai.djl.jlcm.ChildJvm;

import java.nio.file.Path;

/**
 * A child JVM for {@link StageCheckpointTest}: compresses the test network with a work directory and
 * stops for good once the checkpoint of a given stage is written, to be killed there.
 */
public final class KilledCompression {

    static final String MARK = "CHECKPOINT-WRITTEN";

    private KilledCompression() {}

    public static void main(String[] args) throws Exception {
        int stopAfter = Integer.parseInt(args[1]);
        StageCheckpoint.afterWrite =
                s -> {
                    if (s == stopAfter) {
                        ChildJvm.stopHere(MARK);
                    }
                };
        StageCheckpointTest.compressAndExport(Path.of(args[0]), null);
        System.out.println("FINISHED");
    }
}
