package ai.djl.jlcm.fuzz;

/** What the fuzz harnesses share: the check that an accepted exception explains itself. */
public final class Fuzzing {

    private Fuzzing() {}

    /**
     * Throws an {@link AssertionError} (a finding) if the exception has no message.
     *
     * @param e an exception of an accepted type
     */
    public static void requireMessage(Throwable e) {
        if (e.getMessage() == null || e.getMessage().isBlank()) {
            throw new AssertionError("accepted exception without a message", e);
        }
    }
}
