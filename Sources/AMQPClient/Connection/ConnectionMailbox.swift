import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hands commands from any thread to the connection's owner thread and wakes it up.
///
/// The owner sleeps in `poll` on the broker's socket and on a pipe; posting a command writes a byte to
/// the pipe, so a command waits for no timer (a fixed polling interval would add latency to every
/// triage lookup's ack and publish).
final class ConnectionMailbox: Sendable {
    private struct State {
        var commands: [ConnectionCommand] = []
        var isClosed = false
    }
    private let state = Mutex(State())
    private let wakeReader: Int32
    private let wakeWriter: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        let created = pipe(&fds)
        precondition(created == 0, "cannot create the wake-up pipe: errno \(errno)")
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        wakeReader = fds[0]
        wakeWriter = fds[1]
    }

    deinit {
        close(wakeReader)
        close(wakeWriter)
    }

    /// Queues a command for the owner thread; after the connection is closed, fails it at once.
    func post(_ command: ConnectionCommand) {
        enum Posted { case refused, first, queuedBehindOthers }
        let posted = state.withLock { state -> Posted in
            guard !state.isClosed else { return .refused }
            state.commands.append(command)
            return state.commands.count == 1 ? .first : .queuedBehindOthers
        }
        switch posted {
        case .refused:
            command.fail(AMQPError(.clientClosed, "the connection has been closed"))
        case .first:
            var byte: UInt8 = 1
            _ = write(wakeWriter, &byte, 1)  // a full pipe already means "wake up"
        case .queuedBehindOthers:
            // The command that found the queue empty wakes the owner (or has: the owner drains the
            // pipe before it takes the queue), and the owner takes every command queued by then.
            break
        }
    }

    func takeAll() -> [ConnectionCommand] {
        state.withLock { state in
            defer { state.commands.removeAll() }
            return state.commands
        }
    }

    /// Refuses further commands and returns those still queued.
    func refuseFurtherCommands() -> [ConnectionCommand] {
        state.withLock { state in
            state.isClosed = true
            defer { state.commands.removeAll() }
            return state.commands
        }
    }

    /// Sleeps until a command is posted, `socket` has data, or `timeout` passes.
    func wait(socket: Int32?, timeout: Duration) {
        var fds = [pollfd(fd: wakeReader, events: Int16(POLLIN), revents: 0)]
        if let socket { fds.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        let milliseconds = Int32(clamping: max(0, timeout.components.seconds * 1000
            + timeout.components.attoseconds / 1_000_000_000_000_000))
        _ = poll(&fds, nfds_t(fds.count), milliseconds)
        // A read shorter than the buffer has emptied the pipe: no second read to hear EAGAIN.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { drain in
            while read(wakeReader, drain.baseAddress, drain.count) == drain.count {}
        }
    }
}
