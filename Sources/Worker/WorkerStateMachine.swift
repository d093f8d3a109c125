import Foundation

/// Every decision the lookup worker makes, as a value type without locks, clocks or side effects:
/// which delivery starts on which slot, which is a duplicate, which waits for a request already in
/// progress, when the circuit breaker lets calls through, when consuming stops, and when a drain is
/// over. ``LookupWorker`` keeps it behind a lock and carries out the returned ``Action``s (AMQP,
/// SMSP calls, timers) outside it. (The pattern of swift-kafka-client's consumer state machine.)
///
/// The rules that keep every request's delivery attempts for real trouble:
/// - nothing is handed back to the broker for the worker's own reasons: while the breaker is open,
///   received lookups wait here unacknowledged (the prefetch bounds how many) and the rest wait in
///   the queue, their delivery counts untouched;
/// - a drain finishes what it holds instead of handing it back, unless the breaker is open;
/// - a redelivery of a request this process is working on waits for that work and is then
///   acknowledged with it; a redelivery of one it has settled is acknowledged at once.
struct WorkerStateMachine<Delivery> {
    /// A received lookup, as far as the decisions need to know it.
    struct Lookup {
        var delivery: Delivery
        var lane: LookupLane
        /// `message_id`; nil for a message without one (intake refuses it).
        var requestId: String?
        /// SMSP attempts already made (the retry header).
        var attempts: Int
        /// The broker delivered it before, to a holder that did not settle it.
        var redelivered: Bool
        /// When it arrived, and when its caller stops waiting.
        var receivedAt: Date
        var deadline: Date?

        /// Identifies this attempt of the request: a redelivery of a retried attempt is a duplicate,
        /// the retry itself is not.
        var attemptKey: String? { requestId.map { "\($0)#\(attempts)" } }
    }

    enum Phase: Equatable { case running, draining, drained }

    /// How a started lookup was settled with the broker.
    enum Settlement: Equatable {
        /// Its result (or refusal) is published and the request acknowledged.
        case answered
        /// Sent to a retry queue and acknowledged: the retry comes back as a new delivery.
        case retried
        /// Given back to the broker unanswered (a publish was not confirmed).
        case givenBack
    }

    enum Action {
        /// Run the lookup on this slot; `possibleRepeat` when an earlier holder may have sent it to CP-IS.
        case start(Lookup, slot: Int, possibleRepeat: Bool)
        /// A duplicate of a request already settled: acknowledge it, answer nothing.
        case acknowledgeDuplicate(Delivery, requestId: String)
        /// Hand it back to the broker (only while draining with the breaker open).
        case giveBack(Delivery)
        case stopConsuming
        /// Draining is over: nothing running, nothing waiting.
        case drained
        /// The circuit breaker changed state (for the log).
        case breaker(CircuitBreaker.Transition)
    }

    private(set) var scheduler: SlotScheduler<Lookup>
    private(set) var breaker: CircuitBreaker
    private(set) var phase = Phase.running
    /// Request ids (answered) and attempt keys (retried) settled recently, oldest first.
    private var settled: RecentKeys
    /// Requests started and not yet settled, with redeliveries of them received meanwhile.
    private var inProgress: [String: [Delivery]] = [:]
    /// The slot of the one lookup let through while the breaker is half-open.
    private var probeSlot: Int?

    init(scheduler: SlotScheduler<Lookup>, breaker: CircuitBreaker, rememberedRequests: Int) {
        self.scheduler = scheduler
        self.breaker = breaker
        self.settled = RecentKeys(capacity: rememberedRequests)
    }

    /// Whether this request was answered recently (requests the broker dead-lettered are answered
    /// outside the slots, and must not be answered twice either).
    func hasSettled(_ requestId: String) -> Bool { settled.contains(requestId) }

    mutating func rememberSettled(_ requestId: String) { settled.insert(requestId) }

    // MARK: Events

    mutating func received(_ lookup: Lookup, now: Date) -> [Action] {
        if phase == .drained || (phase == .draining && !breaker.allowsCalls) { return [.giveBack(lookup.delivery)] }
        if let id = lookup.requestId {
            if settled.contains(id) || lookup.attemptKey.map(settled.contains) == true {
                return [.acknowledgeDuplicate(lookup.delivery, requestId: id)]
            }
            if inProgress[id] != nil {
                inProgress[id]?.append(lookup.delivery)
                return []
            }
            inProgress[id] = []
        }
        scheduler.enqueue(lookup, lane: lookup.lane)
        return startWaiting(now: now)
    }

    /// The lookup on `slot` is done with its slot (its SMSP call is over); settling it with the
    /// broker may still be under way.
    mutating func slotFreed(_ slot: Int, lane: LookupLane, now: Date) -> [Action] {
        scheduler.release(slot: slot, lane: lane)
        if probeSlot == slot {
            // A probe that made no call (refused at intake, expired) proved nothing: let another through.
            probeSlot = nil
        }
        return startWaiting(now: now) + drainedIfIdle()
    }

    /// The broker has the lookup's outcome. Redeliveries of it that arrived meanwhile are
    /// acknowledged with it, or, when it was given back, the live one is taken up again.
    mutating func settled(_ lookup: Lookup, _ settlement: Settlement, now: Date) -> [Action] {
        guard let id = lookup.requestId else { return drainedIfIdle() }
        let held = inProgress.removeValue(forKey: id) ?? []
        switch settlement {
        case .answered:
            settled.insert(id)
        case .retried:
            if let key = lookup.attemptKey { settled.insert(key) }
        case .givenBack:
            var actions: [Action] = []
            for delivery in held {
                var again = lookup
                again.delivery = delivery
                again.redelivered = true
                actions += received(again, now: now)
            }
            return actions + drainedIfIdle()
        }
        return held.map { .acknowledgeDuplicate($0, requestId: id) } + drainedIfIdle()
    }

    /// An SMSP call got an answer (any answer: the SMSP is up).
    mutating func callAnswered(now: Date) -> [Action] {
        let transition = breaker.recordSuccess()
        probeSlot = nil
        return transition == .none ? [] : [.breaker(transition)] + startWaiting(now: now)
    }

    /// An SMSP call failed in a way worth retrying.
    mutating func callFailed(at instant: ContinuousClock.Instant) -> [Action] {
        let transition = breaker.recordTransientFailure(now: instant)
        probeSlot = nil
        return transition == .none ? [] : [.breaker(transition)]
    }

    /// The clock moved on: an open breaker may let a probe through, and lookups waiting for it whose
    /// deadline has passed start at once (to be answered `expired`, never sent).
    mutating func tick(at instant: ContinuousClock.Instant, now: Date) -> [Action] {
        let transition = breaker.tick(now: instant)
        return (transition == .none ? [] : [.breaker(transition)]) + startWaiting(now: now) + drainedIfIdle()
    }

    /// Stop taking work; finish what is here (or, with the breaker open, give it back).
    mutating func drain() -> [Action] {
        guard phase == .running else { return [] }
        phase = .draining
        var actions: [Action] = [.stopConsuming]
        if !breaker.allowsCalls {
            for lookup in scheduler.drainWaiting() {
                if let id = lookup.requestId, let held = inProgress.removeValue(forKey: id) {
                    actions += held.map { .giveBack($0) }
                }
                actions.append(.giveBack(lookup.delivery))
            }
        }
        return actions + drainedIfIdle()
    }

    // MARK: Deciding

    /// Starts what the slots, the lanes' shares and the breaker allow.
    private mutating func startWaiting(now: Date) -> [Action] {
        var started: [SlotScheduler<Lookup>.Started]
        switch breaker.state {
        case .closed:
            started = scheduler.startWaiting()
        case .halfOpen where probeSlot == nil:
            // A probe that fails costs its lookup an attempt: spend it on batch work where there is
            // any, not on a clinician waiting at triage.
            started = scheduler.startWaiting(limit: 1, order: [.batch, .triage])
            probeSlot = started.first?.slot
        case .halfOpen, .open:
            started = []
        }
        // Whatever the breaker says, a lookup past its deadline starts: it is answered `expired`.
        started += scheduler.startWaiting { lookup in lookup.deadline.map { $0 <= now } ?? false }
        return started.map { started in
            .start(started.work, slot: started.slot, possibleRepeat: started.work.redelivered)
        }
    }

    private mutating func drainedIfIdle() -> [Action] {
        guard phase == .draining, scheduler.isIdle, inProgress.isEmpty else { return [] }
        phase = .drained
        return [.drained]
    }
}

extension WorkerStateMachine.Lookup: Sendable where Delivery: Sendable {}
extension WorkerStateMachine.Action: Sendable where Delivery: Sendable {}

/// A bounded set of recent keys: the oldest is forgotten first.
struct RecentKeys {
    let capacity: Int
    private var keys: Set<String> = []
    private var order: [String] = []
    private var head = 0

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func contains(_ key: String) -> Bool { keys.contains(key) }

    mutating func insert(_ key: String) {
        guard keys.insert(key).inserted else { return }
        order.append(key)
        if order.count - head > capacity {
            keys.remove(order[head])
            head += 1
            // Compact now and then rather than shifting the array on every insert.
            if head > capacity { order.removeFirst(head); head = 0 }
        }
    }
}
