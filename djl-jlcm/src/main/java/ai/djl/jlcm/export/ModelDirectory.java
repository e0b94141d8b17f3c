package ai.djl.jlcm.export;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The rules for the places model directories are written to: what counts as a model directory
 * written by djl-jlcm (the only kind ever replaced or deleted), the check of a destination before any
 * work starts, and the replacement of a directory that is atomic under {@code kill -9}.
 *
 * <p>A new directory is staged beside its destination as {@code .<name>.jlcm-new-<uuid>}. An absent
 * destination is then created by one rename. An existing one is replaced by two renames (the old
 * directory to {@code .<name>.jlcm-old-<uuid>}, the staged one into place), after a journal {@code
 * .<name>.jlcm-swap} naming both has been written: a process killed between the renames leaves the
 * journal, and {@link #recover(Path)} (run by every export, by the cache and by the CLI's loads)
 * finishes the replacement. Every write holds the {@link DirectoryLock} of the destination, so
 * staging directories found while holding it belong to killed writers and are deleted.
 */
public final class ModelDirectory {

    private static final Logger logger = LoggerFactory.getLogger(ModelDirectory.class);

    private static final String SERVING_PROPERTIES = "serving.properties";

    /** The first line of the {@code serving.properties} files djl-jlcm writes. */
    public static final String MARKER = "#DJL model directory written by djl-jlcm";
    private static final String UUID_PATTERN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

    /** A test seam: runs between the two renames of a replacement. */
    static volatile Runnable betweenRenames = () -> {};

    private ModelDirectory() {}

    /**
     * Returns whether a path is a non-empty directory written by djl-jlcm: every entry is a regular
     * file named {@value Manifest#FILE_NAME}, {@code serving.properties} or {@code *.params}, and it
     * has a manifest, or a {@code serving.properties} naming {@link JlcmBlockFactory} or starting with
     * {@value #MARKER} (a float model directory djl-jlcm wrote).
     *
     * @param dir the path
     * @return whether djl-jlcm may replace or delete it
     * @throws IOException if the directory cannot be listed
     */
    public static boolean isWrittenByUs(Path dir) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        List<Path> entries = list(dir);
        if (entries.isEmpty() || !foreignEntries(entries).isEmpty()) {
            return false;
        }
        if (Files.exists(dir.resolve(Manifest.FILE_NAME))) {
            return true;
        }
        Path serving = dir.resolve(SERVING_PROPERTIES);
        if (!Files.exists(serving)) {
            return false;
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(serving, StandardCharsets.ISO_8859_1)) {
            p.load(r);
        } catch (IllegalArgumentException e) {
            return false;
        }
        if (JlcmBlockFactory.class.getName().equals(p.getProperty("blockFactory"))) {
            return true;
        }
        try (BufferedReader r = Files.newBufferedReader(serving, StandardCharsets.ISO_8859_1)) {
            return MARKER.equals(r.readLine());
        }
    }

    /** What a staged directory is filled with. */
    @FunctionalInterface
    public interface Contents {

        /**
         * Writes the directory's files.
         *
         * @param staging the empty staging directory
         * @throws IOException if writing fails
         */
        void writeTo(Path staging) throws IOException;
    }

    /**
     * Writes a model directory: checks the destination ({@link #checkDestination}), holds its lock,
     * recovers it, fills a staging directory beside it and puts that in place ({@link
     * #recover(Path)}'s atomic replacement). On any failure the destination is as it was and the
     * staging directory is deleted.
     *
     * @param dir the destination
     * @param overwrite whether an existing model directory of ours may be replaced
     * @param contents writes the files
     * @throws IOException if writing fails
     * @throws IllegalArgumentException if the destination cannot be written
     */
    public static void write(Path dir, boolean overwrite, Contents contents) throws IOException {
        checkDestination(dir, overwrite);
        Path target = dir.toAbsolutePath().normalize();
        Files.createDirectories(target.getParent());
        try (DirectoryLock lock = DirectoryLock.acquire(target)) {
            recoverLocked(target);
            checkDestination(dir, overwrite);
            Path tmp = newStaging(target);
            try {
                Files.createDirectory(tmp);
                contents.writeTo(tmp);
                replace(tmp, target);
            } finally {
                deleteRecursively(tmp);
            }
        }
    }

    /**
     * Writes a {@code serving.properties} file that marks its directory as written by djl-jlcm (its
     * first line, {@value #MARKER}), without the date {@code Properties.store} would add, so that
     * equal properties give equal files.
     *
     * @param file the file
     * @param properties the keys and values, in order
     * @throws IOException if writing fails
     */
    public static void writeServingProperties(Path file, Map<String, String> properties)
            throws IOException {
        Properties p = new Properties();
        properties.forEach(p::setProperty);
        StringWriter text = new StringWriter();
        p.store(text, null);
        String body = text.toString().replaceFirst("\\A#[^\n]*\n", "");
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.ISO_8859_1)) {
            w.write(MARKER + "\n");
            w.write(body);
        }
    }

    /**
     * Checks, before any work starts, that a model directory can be written to a path: the path is
     * absent, an empty directory, or (with overwriting) a model directory written by djl-jlcm, and its
     * parent can be created and written.
     *
     * @param dir the destination
     * @param overwrite whether an existing model directory of ours may be replaced
     * @throws IllegalArgumentException naming the path and the reason if it cannot be written
     * @throws IOException if the file system cannot be read
     */
    public static void checkDestination(Path dir, boolean overwrite) throws IOException {
        Path target = dir.toAbsolutePath().normalize();
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                throw new IllegalArgumentException(
                        dir + " exists and is not a directory; nothing was written there");
            }
            List<Path> entries = list(target);
            if (!entries.isEmpty()) {
                if (!isWrittenByUs(target)) {
                    List<Path> foreign = foreignEntries(entries);
                    throw new IllegalArgumentException(
                            dir
                                    + " is not empty and is not a model directory written by djl-jlcm (it holds "
                                    + names(foreign.isEmpty() ? entries : foreign)
                                    + "); choose an absent or empty directory, nothing was written");
                }
                if (!overwrite) {
                    throw new IllegalArgumentException(
                            dir
                                    + " already holds a model directory written by djl-jlcm; overwriting is"
                                    + " off (--overwrite on the command line, optOverwrite(true) in the API)");
                }
            }
        }
        Path existing = target.getParent();
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null || !Files.isDirectory(existing)) {
            throw new IllegalArgumentException(
                    "Cannot create " + dir + ": " + existing + " is not a directory");
        }
        try {
            Files.delete(Files.createTempFile(existing, ".jlcm-write-check-", ".tmp"));
        } catch (IOException | SecurityException e) {
            throw new IllegalArgumentException(
                    "Cannot write " + dir + ": " + existing + " is not writable (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Finishes or undoes an export that a killed process left, and deletes the staging directories of
     * killed writers. Does nothing (and takes no lock) when nothing was left.
     *
     * @param dir the model directory
     * @return whether the directory was put back in place from the journal
     * @throws IOException if recovery fails
     */
    public static boolean recover(Path dir) throws IOException {
        Path target = dir.toAbsolutePath().normalize();
        if (!Files.isDirectory(target.getParent()) || leftovers(target).isEmpty()) {
            return false;
        }
        try (DirectoryLock lock = DirectoryLock.acquire(target)) {
            return recoverLocked(target);
        }
    }

    /**
     * Deletes a model directory written by djl-jlcm; refuses any other path.
     *
     * @param dir the directory
     * @throws IllegalArgumentException if the path exists and is not a model directory of ours
     * @throws IOException if deleting fails
     */
    public static void delete(Path dir) throws IOException {
        Path target = dir.toAbsolutePath().normalize();
        try (DirectoryLock lock = DirectoryLock.acquire(target)) {
            recoverLocked(target);
            if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                return;
            }
            if (!isWrittenByUs(target)) {
                throw new IllegalArgumentException(
                        "Refusing to delete " + dir + ": it is not a model directory written by djl-jlcm");
            }
            deleteRecursively(target);
        }
    }

    /**
     * Returns a new staging path for a directory (not created).
     *
     * @param target the absolute, normalized destination
     * @return {@code .<name>.jlcm-new-<uuid>} beside it
     */
    static Path newStaging(Path target) {
        return target.resolveSibling("." + target.getFileName() + ".jlcm-new-" + UUID.randomUUID());
    }

    /**
     * Puts a staged directory in place; the caller holds the destination's lock and has checked the
     * destination.
     *
     * @param staged the complete staged directory
     * @param target the absolute, normalized destination
     * @throws IOException if a rename fails; the destination is then as it was
     */
    static void replace(Path staged, Path target) throws IOException {
        syncTree(staged);
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
            sync(target.getParent());
            return;
        }
        Path old = target.resolveSibling("." + target.getFileName() + ".jlcm-old-" + UUID.randomUUID());
        Path journal = journal(target);
        writeJournal(journal, staged, old);
        Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
        try {
            betweenRenames.run();
            Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            Files.move(old, target, StandardCopyOption.ATOMIC_MOVE);
            Files.deleteIfExists(journal);
            throw e;
        }
        sync(target.getParent());
        deleteRecursively(old);
        Files.delete(journal);
    }

    /**
     * Recovers a destination; the caller holds its lock.
     *
     * @param target the absolute, normalized destination
     * @return whether the directory was put back in place
     * @throws IOException if recovery fails
     */
    static boolean recoverLocked(Path target) throws IOException {
        boolean restored = false;
        Path journal = journal(target);
        if (Files.exists(journal)) {
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(journal, StandardCharsets.UTF_8)) {
                p.load(r);
            }
            Path staged = sibling(target, p.getProperty("new"), ".jlcm-new-");
            Path old = sibling(target, p.getProperty("old"), ".jlcm-old-");
            if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                if (staged != null && Files.isDirectory(staged)) {
                    Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
                    logger.warn("{}: finished the replacement that an interrupted export left", target);
                    restored = true;
                } else if (old != null && Files.isDirectory(old)) {
                    Files.move(old, target, StandardCopyOption.ATOMIC_MOVE);
                    logger.warn("{}: restored the model directory that an interrupted export moved aside", target);
                    restored = true;
                }
                sync(target.getParent());
            }
        }
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            restored |= restoreLegacy(target);
        }
        for (Path leftover : leftovers(target)) {
            if (leftover.equals(journal)) {
                continue;
            }
            if (Files.isRegularFile(leftover, LinkOption.NOFOLLOW_LINKS)) {
                Files.delete(leftover); // a journal that was never renamed into place
            } else if (Files.isDirectory(leftover, LinkOption.NOFOLLOW_LINKS)
                    && foreignEntries(list(leftover)).isEmpty()) {
                deleteRecursively(leftover);
                logger.info("Deleted {}, left by an interrupted export", leftover);
            } else {
                logger.warn("Left {} alone: it does not look like a staging directory of djl-jlcm", leftover);
            }
        }
        Files.deleteIfExists(journal);
        return restored;
    }

    /**
     * Versions before the journal moved the old directory to {@code .<name>.old-<uuid>} before
     * renaming the new one into place; a process killed between left only that copy.
     */
    private static boolean restoreLegacy(Path target) throws IOException {
        Pattern legacy = Pattern.compile(Pattern.quote("." + target.getFileName()) + "\\.old-" + UUID_PATTERN);
        for (Path p : leftovers(target)) {
            if (legacy.matcher(p.getFileName().toString()).matches() && isWrittenByUs(p)) {
                Files.move(p, target, StandardCopyOption.ATOMIC_MOVE);
                logger.warn("{}: restored the model directory that an interrupted export moved aside", target);
                return true;
            }
        }
        return false;
    }

    private static Path journal(Path target) {
        return target.resolveSibling("." + target.getFileName() + ".jlcm-swap");
    }

    private static void writeJournal(Path journal, Path staged, Path old) throws IOException {
        Properties p = new Properties();
        p.setProperty("new", staged.getFileName().toString());
        p.setProperty("old", old.getFileName().toString());
        Path tmp = journal.resolveSibling(journal.getFileName() + "-" + UUID.randomUUID() + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            p.store(w, "djl-jlcm: a model directory replacement in progress");
        }
        sync(tmp);
        Files.move(tmp, journal, StandardCopyOption.ATOMIC_MOVE);
        sync(journal.getParent());
    }

    /** A sibling named in a journal, or {@code null} if the name is not one of ours. */
    private static Path sibling(Path target, String name, String kind) {
        String prefix = "." + target.getFileName() + kind;
        if (name == null || !name.startsWith(prefix) || !name.substring(prefix.length()).matches(UUID_PATTERN)) {
            return null;
        }
        return target.resolveSibling(name);
    }

    /** The journal and the staging directories of earlier writes (and of earlier versions). */
    private static List<Path> leftovers(Path target) throws IOException {
        Pattern pattern =
                Pattern.compile(
                        Pattern.quote("." + target.getFileName())
                                + "(\\.jlcm-swap(-" + UUID_PATTERN + "\\.tmp)?|\\.(jlcm-new|jlcm-old|tmp|old)-" + UUID_PATTERN + ")");
        try (Stream<Path> files = Files.list(target.getParent())) {
            return files.filter(p -> pattern.matcher(p.getFileName().toString()).matches())
                    .sorted()
                    .collect(Collectors.toList());
        }
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.sorted().collect(Collectors.toList());
        }
    }

    private static List<Path> foreignEntries(List<Path> entries) {
        List<Path> foreign = new ArrayList<>();
        for (Path p : entries) {
            String name = p.getFileName().toString();
            boolean ours =
                    name.equals(Manifest.FILE_NAME)
                            || name.equals(SERVING_PROPERTIES)
                            || name.endsWith(".params");
            if (!ours || !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                foreign.add(p);
            }
        }
        return foreign;
    }

    private static String names(List<Path> entries) {
        List<String> names = new ArrayList<>();
        for (Path p : entries) {
            names.add(p.getFileName() + (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? "/" : ""));
        }
        int shown = Math.min(names.size(), 5);
        String list = String.join(", ", names.subList(0, shown));
        return names.size() > shown ? list + " and " + (names.size() - shown) + " more" : list;
    }

    /** Flushes a staged tree to the disk: its files, then the directory. */
    private static void syncTree(Path dir) throws IOException {
        for (Path p : list(dir)) {
            if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                sync(p);
            }
        }
        sync(dir);
    }

    private static void sync(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            walk.sorted(Comparator.reverseOrder())
                    .forEach(
                            p -> {
                                try {
                                    Files.delete(p);
                                } catch (IOException e) {
                                    throw new UncheckedIOException(e);
                                }
                            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
