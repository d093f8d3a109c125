#if os(Linux)
import Glibc

/// Watches one file for being opened, by anyone, to prove that the code under test never read it
/// (e.g. that an XML parser did not load an external entity naming it). Linux only: it uses inotify.
public final class FileOpenWatcher {
    private let descriptor: Int32

    /// Starts watching the file at `path`, which must exist.
    public init(path: String) throws {
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { throw WatchError(reason: "inotify_init1 failed") }
        guard inotify_add_watch(descriptor, path, UInt32(IN_OPEN)) >= 0 else {
            close(descriptor)
            throw WatchError(reason: "cannot watch \(path)")
        }
    }

    deinit {
        close(descriptor)
    }

    /// How many times the file has been opened since the last call.
    public func openCount() -> Int {
        // The kernel queues one fixed-size event per open (a watched file's events carry no name).
        var buffer = [UInt8](repeating: 0, count: 64 * MemoryLayout<inotify_event>.size)
        var count = 0
        while case let length = read(descriptor, &buffer, buffer.count), length > 0 {
            count += length / MemoryLayout<inotify_event>.size
        }
        return count
    }

    public struct WatchError: Error, CustomStringConvertible {
        let reason: String
        public var description: String { reason }
    }
}
#endif
