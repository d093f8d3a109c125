/// Stops the worker hammering an SMSP that is down.
///
/// Closed: calls flow. After `failureThreshold` consecutive transient failures it opens: no calls,
/// and the consumers are paused so requests wait in the broker, not in memory. After `coolDown` it
/// is half-open: one real lookup is let through as the probe (a synthetic probe would be a CP-IS
/// query too, and notify a local authority for nothing). Its success closes the breaker; its
/// failure opens it again for twice as long, up to `maximumCoolDown`.
///
/// A value type without side effects: the owner keeps it behind a lock and acts on the returned
/// transitions.
struct CircuitBreaker {
    enum State: Equatable {
        case closed(consecutiveFailures: Int)
        case open(until: ContinuousClock.Instant, coolDown: Duration)
        case halfOpen(coolDown: Duration)
    }

    /// What the owner must do after an event.
    enum Transition: Equatable {
        case none
        /// Stop consuming until `until`.
        case opened(until: ContinuousClock.Instant)
        /// Consume one lookup as the probe.
        case probe
        /// Resume consuming normally.
        case closed
    }

    let failureThreshold: Int
    let coolDown: Duration
    let maximumCoolDown: Duration
    private(set) var state: State = .closed(consecutiveFailures: 0)

    init(failureThreshold: Int, coolDown: Duration, maximumCoolDown: Duration) {
        self.failureThreshold = max(1, failureThreshold)
        self.coolDown = coolDown
        self.maximumCoolDown = max(coolDown, maximumCoolDown)
    }

    /// The SMSP answered (any answer, including a business error: it is up).
    mutating func recordSuccess() -> Transition {
        switch state {
        case .closed:
            state = .closed(consecutiveFailures: 0)
            return .none
        case .halfOpen, .open:
            state = .closed(consecutiveFailures: 0)
            return .closed
        }
    }

    /// The SMSP could not be reached or failed transiently.
    mutating func recordTransientFailure(now: ContinuousClock.Instant) -> Transition {
        switch state {
        case .closed(let failures) where failures + 1 >= failureThreshold:
            state = .open(until: now + coolDown, coolDown: coolDown)
            return .opened(until: now + coolDown)
        case .closed(let failures):
            state = .closed(consecutiveFailures: failures + 1)
            return .none
        case .halfOpen(let previous):
            let next = min(maximumCoolDown, previous * 2)
            state = .open(until: now + next, coolDown: next)
            return .opened(until: now + next)
        case .open:
            return .none
        }
    }

    /// The clock moved on: an open breaker whose cool-down has passed lets a probe through.
    mutating func tick(now: ContinuousClock.Instant) -> Transition {
        guard case .open(let until, let coolDown) = state, now >= until else { return .none }
        state = .halfOpen(coolDown: coolDown)
        return .probe
    }

    var allowsCalls: Bool {
        if case .open = state { false } else { true }
    }
}
