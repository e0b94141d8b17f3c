package ai.djl.jlcm.export;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An exclusive lock on a directory path, shared by the threads of this JVM and by other processes:
 * a lock file {@code .<name>.lock} beside the directory, held with an OS file lock (released by the
 * OS when a process dies, {@code kill -9} included). Reentrant for the thread that holds it.
 */
public final class DirectoryLock implements AutoCloseable {

    private static final Map<Path, Holder> HOLDERS = new ConcurrentHashMap<>();

    private final Holder holder;

    private DirectoryLock(Holder holder) {
        this.holder = holder;
    }

    /**
     * Waits for and takes the lock of a directory path (which need not exist).
     *
     * @param dir the directory
     * @return the held lock, to close
     * @throws IOException naming the lock file if it cannot be written
     */
    public static DirectoryLock acquire(Path dir) throws IOException {
        Path target = dir.toAbsolutePath().normalize();
        Holder holder = HOLDERS.computeIfAbsent(target, Holder::new);
        holder.local.lock();
        if (holder.local.getHoldCount() == 1) {
            try {
                holder.open();
            } catch (IOException | RuntimeException e) {
                holder.local.unlock();
                throw e;
            }
        }
        return new DirectoryLock(holder);
    }

    /**
     * Returns the lock file of a directory path.
     *
     * @param dir the directory
     * @return {@code .<name>.lock} in its parent
     */
    public static Path lockFile(Path dir) {
        Path target = dir.toAbsolutePath().normalize();
        return target.resolveSibling("." + target.getFileName() + ".lock");
    }

    /** Releases the lock (the file lock once the outermost hold is released). */
    @Override
    public void close() throws IOException {
        try {
            if (holder.local.getHoldCount() == 1) {
                holder.release();
            }
        } finally {
            holder.local.unlock();
        }
    }

    /** The per-path state: an in-JVM lock and, while held, the file lock. */
    private static final class Holder {
        private final Path dir;
        private final ReentrantLock local = new ReentrantLock();
        private FileChannel channel;
        private FileLock fileLock;

        Holder(Path dir) {
            this.dir = dir;
        }

        void open() throws IOException {
            Path file = lockFile(dir);
            try {
                Files.createDirectories(file.getParent());
                channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            } catch (IOException e) {
                throw new IOException("Cannot lock " + dir + " with " + file + ": " + e, e);
            }
            try {
                fileLock = fileLock(channel);
            } catch (IOException | RuntimeException e) {
                channel.close();
                channel = null;
                throw e;
            }
        }

        void release() throws IOException {
            try {
                fileLock.release();
            } finally {
                channel.close();
                channel = null;
                fileLock = null;
            }
        }

        /**
         * Takes the file lock. A JVM holds file locks for all its class loaders, and DJL loads a
         * factory found in a model directory's jar with a new class loader each time, so another
         * copy of this class (with its own lock map) may hold the lock: then wait for it.
         */
        private static FileLock fileLock(FileChannel channel) throws IOException {
            while (true) {
                try {
                    return channel.lock();
                } catch (OverlappingFileLockException e) {
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        throw new InterruptedIOException("interrupted while waiting for a lock");
                    }
                }
            }
        }
    }
}
