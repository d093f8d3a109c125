import Synchronization

/// At most one log line per key in each interval, with how many were left out before it: a client
/// reconnecting in a loop after a refusal, or without a certificate, must not fill the log (and
/// hide everything else in it) at 3 a.m. The server's counters still count every one.
final class LogThrottle: Sendable {
    private struct Entry {
        var loggedAt: ContinuousClock.Instant
        var leftOut: Int
    }

    private let interval: Duration
    /// Keys seen within the interval: at most this many, so that many addresses cannot grow it
    /// (nor the log) without bound.
    private let maximumKeys = 1024
    private let entries = Mutex<[String: Entry]>([:])

    init(interval: Duration) {
        self.interval = interval
    }

    /// How many keys it holds (for tests of its bound).
    var trackedKeys: Int { entries.withLock { $0.count } }

    /// `nil` when the line for `key` is to be left out; otherwise how many lines for `key` were
    /// left out since the last one logged.
    func admit(_ key: String, now: ContinuousClock.Instant = .now) -> Int? {
        entries.withLock { entries in
            if var entry = entries[key], now - entry.loggedAt < interval {
                entry.leftOut += 1
                entries[key] = entry
                return nil
            }
            let leftOut = entries[key]?.leftOut ?? 0
            if entries[key] == nil, entries.count >= maximumKeys {
                entries = entries.filter { now - $0.value.loggedAt < interval }
                // Still full: this many addresses within the interval is a flood of its own, and
                // its lines are left out until some age (the server's counters still count them).
                guard entries.count < maximumKeys else { return nil }
            }
            entries[key] = Entry(loggedAt: now, leftOut: 0)
            return leftOut
        }
    }
}
