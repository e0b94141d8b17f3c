package ai.djl.jlcm.learn;

import ai.djl.jlcm.transform.BlockTree;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;

import java.util.ArrayList;
import java.util.List;

/**
 * One run of the calibration batches through a block tree with {@link InputRecorder}s in place of
 * some blocks, its members. Member 0's inputs are copied and kept; the other members' inputs are
 * only compared, by identity, with member 0's, which tells the caller which layers receive the very
 * same arrays (and so can be learned from one recording, since none feeds another).
 *
 * <p>The first batch runs the whole tree and counts the calls of member 0 and of the members that
 * share its inputs; each later batch of the same input shapes ends as soon as that many calls have
 * been seen, so the part of the network after the recorded blocks is not run. A batch of other
 * shapes (a shorter last batch, another sequence length) may call a layer another number of times,
 * so it runs whole. A network whose number of calls depends on the input values, not only on their
 * shapes, is not supported by this shortcut. A runner that loads later stages from a float source
 * runs the batches a stage at a time instead ({@link StageRunner#forwardStageMajor}), each batch whole.
 */
final class CalibrationPass {

    private final NDManager manager;
    private final List<NDList> recorded = new ArrayList<>();
    private final List<List<NDArray>> received = new ArrayList<>();
    private final int[] callsPerBatch;
    private final boolean[] sharing;
    private boolean firstBatch = true;
    private boolean stopEarly;
    private List<Shape> firstShapes;
    private int calls;
    private int expected;

    private CalibrationPass(NDManager manager, int members) {
        this.manager = manager;
        callsPerBatch = new int[members];
        sharing = new boolean[members];
        for (int i = 0; i < members; i++) {
            received.add(new ArrayList<>());
            sharing[i] = true;
        }
    }

    /**
     * Runs the batches with recorders in place of the layers at {@code paths} (member {@code i} is
     * {@code paths.get(i)}), then puts the layers back.
     *
     * @param root the root of the tree holding the layers
     * @param paths the layers' paths; the first one's inputs are recorded
     * @param runner the block to run the batches through (the root, or a block holding the layers)
     * @param batches the input batches of {@code runner}
     * @param manager the manager that owns the recorded copies
     * @return the finished pass
     */
    static CalibrationPass ofLayers(
            Block root, List<String> paths, Block runner, Iterable<NDList> batches, NDManager manager) {
        CalibrationPass pass = new CalibrationPass(manager, paths.size());
        List<Block> layers = new ArrayList<>();
        List<Block> recorders = new ArrayList<>();
        try {
            for (int i = 0; i < paths.size(); i++) {
                BlockTree tree = BlockTree.of(root);
                Block layer = tree.get(paths.get(i));
                Block recorder = InputRecorder.wrap(layer, pass, i);
                tree.checkReplaceable(layer, recorder, paths.get(i));
                tree.replace(layer, recorder);
                layers.add(layer);
                recorders.add(recorder);
            }
            pass.run(runner, batches);
        } finally {
            for (int i = 0; i < recorders.size(); i++) {
                BlockTree.of(root).replace(recorders.get(i), layers.get(i));
            }
        }
        if (pass.recorded.isEmpty()) {
            throw new IllegalArgumentException(
                    "Layer '" + paths.get(0) + "' saw no calibration input: is the calibration data empty?");
        }
        return pass;
    }

    /**
     * Runs the batches through {@code runner} with a recorder in place of the unit at {@code path},
     * then puts the unit back.
     *
     * @param root the root block
     * @param path the unit's path (not empty)
     * @param unit the unit
     * @param runner the block to run the batches through (the root, or a stage holding the unit)
     * @param batches the input batches of {@code runner}
     * @param manager the manager that owns the recorded copies
     * @return the unit's recorded input lists
     */
    static List<NDList> ofUnit(
            Block root, String path, Block unit, Block runner, Iterable<NDList> batches, NDManager manager) {
        CalibrationPass pass = new CalibrationPass(manager, 1);
        Block recorder = InputRecorder.wrapUnit(unit, pass);
        BlockTree tree = BlockTree.of(root);
        tree.checkReplaceable(unit, recorder, path);
        tree.replace(unit, recorder);
        try {
            pass.run(runner, batches);
        } finally {
            BlockTree.of(root).replace(recorder, unit);
        }
        if (pass.recorded.isEmpty()) {
            throw new IllegalArgumentException(
                    "Unit '" + path + "' saw no calibration input: is the calibration data empty?");
        }
        return pass.recorded;
    }

    /**
     * Returns the copies of member 0's inputs, one list per call, in call order.
     *
     * @return the recorded inputs
     */
    List<NDList> recorded() {
        return recorded;
    }

    /**
     * Returns the recorded single inputs of member 0 (a layer).
     *
     * @return one array per call
     */
    List<NDArray> recordedArrays() {
        List<NDArray> arrays = new ArrayList<>();
        for (NDList l : recorded) {
            arrays.add(l.singletonOrThrow());
        }
        return arrays;
    }

    /**
     * Returns whether a member received exactly the arrays member 0 received, call for call, in every
     * batch.
     *
     * @param member the member
     * @return whether its inputs are member 0's
     */
    boolean sharesInputs(int member) {
        return sharing[member] && callsPerBatch[member] > 0;
    }

    /** Called by a recorder with each input it receives, before it runs its block. */
    void received(int member, NDList inputs) {
        if (member == 0) {
            recorded.add(InputRecorder.copy(inputs, manager));
        }
        received.get(member).addAll(inputs);
        if (firstBatch) {
            callsPerBatch[member]++;
        } else if (stopEarly && counted(member) && ++calls == expected) {
            throw Complete.INSTANCE;
        }
    }

    private boolean counted(int member) {
        return member == 0 || sharing[member];
    }

    private void run(Block runner, Iterable<NDList> batches) {
        if (runner instanceof StageRunner && ((StageRunner) runner).loadsStages()) {
            // the later stages are loaded once for all batches; every batch runs whole, as one
            List<NDList> all = new ArrayList<>();
            batches.forEach(all::add);
            try (NDManager step = manager.newSubManager()) {
                ((StageRunner) runner).forwardStageMajor(all, step);
            }
            endBatch();
            return;
        }
        for (NDList batch : batches) {
            calls = 0;
            List<Shape> shapes = batch.getShapes() == null ? List.of() : List.of(batch.getShapes());
            if (firstBatch) {
                firstShapes = shapes;
            }
            stopEarly = !firstBatch && shapes.equals(firstShapes);
            try (NDManager step = manager.newSubManager()) {
                try {
                    runner.forward(new ParameterStore(step, false), InputRecorder.copy(batch, step), false);
                } catch (Complete e) {
                    // everything this batch had to give was recorded; the rest of the network is skipped
                }
                endBatch();
            }
        }
    }

    private void endBatch() {
        List<NDArray> reference = received.get(0);
        expected = 0;
        for (int m = 0; m < sharing.length; m++) {
            if (m > 0 && sharing[m]) {
                sharing[m] = sameArrays(received.get(m), reference);
            }
            if (counted(m)) {
                expected += callsPerBatch[m];
            }
        }
        for (List<NDArray> r : received) {
            r.clear();
        }
        firstBatch = false;
    }

    private static boolean sameArrays(List<NDArray> a, List<NDArray> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i) != b.get(i)) {
                return false;
            }
        }
        return true;
    }

    /** Ends a batch's forward pass once every needed input was seen. */
    private static final class Complete extends RuntimeException {
        private static final long serialVersionUID = 1L;
        static final Complete INSTANCE = new Complete();

        private Complete() {
            super("calibration pass complete", null, false, false);
        }
    }
}
