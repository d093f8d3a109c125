import Dispatch

/// A point in time by which a blocking operation must finish, or none.
///
/// Every wait in this module is a `poll(2)` on a non-blocking socket bounded by a deadline, so the
/// caller's timeout covers a whole exchange (connect, TLS handshake, write, read) rather than each
/// system call.
struct Deadline: Sendable {
    private let instant: ContinuousClock.Instant?

    /// A deadline that never passes (a server connection held open until its peer or shutdown ends it).
    static let none = Deadline(instant: nil)

    static func after(_ duration: Duration) -> Deadline {
        Deadline(instant: .now + duration)
    }

    /// The earlier of two deadlines.
    static func earliest(_ a: Deadline, _ b: Deadline) -> Deadline {
        guard let first = a.instant else { return b }
        guard let second = b.instant else { return a }
        return Deadline(instant: min(first, second))
    }

    var hasPassed: Bool {
        guard let instant else { return false }
        return instant <= .now
    }

    /// What is left, as `poll(2)` wants it: milliseconds rounded up, `-1` for no deadline.
    var pollTimeout: Int32 {
        guard let instant else { return -1 }
        let remaining = instant - .now
        guard remaining > .zero else { return 0 }
        let (seconds, attoseconds) = remaining.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }

    /// The deadline for a wait on a Dispatch semaphore: ``pollTimeout`` from now, or never.
    var dispatchTime: DispatchTime {
        let milliseconds = pollTimeout
        return milliseconds < 0 ? .distantFuture : .now() + .milliseconds(Int(milliseconds))
    }
}
