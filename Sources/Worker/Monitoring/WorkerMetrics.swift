import CPISDomain
import Metrics
import Synchronization

/// The worker's metrics, through swift-metrics (`cpis worker` exports them for Prometheus at
/// `/metrics`). Every series is made when the worker starts, so each shows from the first scrape
/// (at zero) and recording one is a lookup in a dictionary, not a call into the metrics factory.
final class WorkerMetrics: Sendable {
    /// What came of an SMSP call, as `cpis_smsp_call_duration_seconds` labels it.
    enum CallResult: String, CaseIterable {
        case answered, rejected, unavailable
        case wrongPatient = "wrong-patient"

        /// Nil for outcomes that made no call.
        init?(_ outcome: SMSPCallOutcome) {
            switch outcome {
            case .answered: self = .answered
            case .rejected: self = .rejected
            case .unavailable: self = .unavailable
            case .wrongPatient: self = .wrongPatient
            case .notSent, .expiredBeforeSend: return nil
            }
        }
    }

    enum BreakerState: Double {
        case closed = 0, halfOpen = 1, open = 2
    }

    private let lookups: [LookupLane: [LookupResult.Outcome: Counter]]
    private let failures: [LookupLane: [LookupResult.Failure.Kind: Counter]]
    private let lookupDuration: [LookupLane: Timer]
    private let queueWait: [LookupLane: Timer]
    private let smspCalls: [CallResult: Timer]
    private let slotsInUse: [LookupLane: Gauge]
    private let slotCounts: Mutex<[LookupLane: Int]>
    private let retries: [LookupLane: Counter]
    private let deadLetters: [LookupLane: [LookupResult.Failure.Kind: Counter]]
    private let possibleRepeats = Counter(label: "cpis_possible_repeats_total")
    private let breakerState = Gauge(label: "cpis_circuit_breaker_state")
    private let reconnects = Counter(label: "cpis_amqp_reconnects_total")
    private let reconnectsCounted = Atomic<Int>(0)
    private let unanswered: [LookupResult.Outcome: Counter]

    init(maximumInFlight: Int, reservedForTriage: Int) {
        func byLane<Value>(_ make: (LookupLane) -> Value) -> [LookupLane: Value] {
            Dictionary(uniqueKeysWithValues: LookupLane.allCases.map { ($0, make($0)) })
        }
        let outcomes = LookupResult.Outcome.allCases
        let kinds = LookupResult.Failure.Kind.allCases
        lookups = byLane { lane in
            Dictionary(uniqueKeysWithValues: outcomes.map {
                ($0, Counter(label: "cpis_lookups_total", dimensions: [("lane", lane.rawValue), ("outcome", $0.rawValue)]))
            })
        }
        failures = byLane { lane in
            Dictionary(uniqueKeysWithValues: kinds.map {
                ($0, Counter(label: "cpis_lookup_failures_total", dimensions: [("lane", lane.rawValue), ("kind", $0.rawValue)]))
            })
        }
        deadLetters = byLane { lane in
            Dictionary(uniqueKeysWithValues: kinds.map {
                ($0, Counter(label: "cpis_dead_letters_total", dimensions: [("lane", lane.rawValue), ("kind", $0.rawValue)]))
            })
        }
        lookupDuration = byLane { Timer(label: "cpis_lookup_duration_seconds", dimensions: [("lane", $0.rawValue)]) }
        queueWait = byLane { Timer(label: "cpis_queue_wait_seconds", dimensions: [("lane", $0.rawValue)]) }
        retries = byLane { Counter(label: "cpis_retries_total", dimensions: [("lane", $0.rawValue)]) }
        smspCalls = Dictionary(uniqueKeysWithValues: CallResult.allCases.map {
            ($0, Timer(label: "cpis_smsp_call_duration_seconds", dimensions: [("result", $0.rawValue)]))
        })
        unanswered = Dictionary(uniqueKeysWithValues: [LookupResult.Outcome.expired, .failed].map {
            ($0, Counter(label: "cpis_unanswered_total", dimensions: [("outcome", $0.rawValue)]))
        })
        slotsInUse = byLane { Gauge(label: "cpis_slots_in_use", dimensions: [("lane", $0.rawValue)]) }
        slotCounts = Mutex(byLane { _ in 0 })
        for lane in LookupLane.allCases {
            let capacity = lane == .triage ? maximumInFlight : maximumInFlight - reservedForTriage
            Gauge(label: "cpis_slots", dimensions: [("lane", lane.rawValue)]).record(capacity)
            slotsInUse[lane]?.record(0)
        }
        breakerState.record(BreakerState.closed.rawValue)
    }

    /// A lookup's result was delivered (the broker confirmed it).
    func answered(_ result: LookupResult, lane: LookupLane, after duration: Duration) {
        lookups[lane]?[result.outcome]?.increment()
        if let kind = result.error?.kind { failures[lane]?[kind]?.increment() }
        lookupDuration[lane]?.record(duration: duration)
    }

    /// A refused request was parked in the dead-letter queue.
    func parked(_ kind: LookupResult.Failure.Kind, lane: LookupLane) {
        deadLetters[lane]?[kind]?.increment()
    }

    func retried(lane: LookupLane) { retries[lane]?.increment() }
    func possibleRepeat() { possibleRepeats.increment() }

    /// A request the broker dead-lettered was answered from `cpis.lookup.unanswered`.
    func answeredUnanswered(_ outcome: LookupResult.Outcome) { unanswered[outcome]?.increment() }

    func waited(_ seconds: Double, lane: LookupLane) {
        queueWait[lane]?.recordSeconds(max(0, seconds))
    }

    func smspCall(_ result: CallResult, took duration: Duration) {
        smspCalls[result]?.record(duration: duration)
    }

    func slotTaken(lane: LookupLane) { changeSlots(lane, by: 1) }
    func slotFreed(lane: LookupLane) { changeSlots(lane, by: -1) }

    private func changeSlots(_ lane: LookupLane, by change: Int) {
        // Recorded under the lock: threads recording in turn could otherwise leave a stale count last.
        slotCounts.withLock { counts in
            counts[lane, default: 0] += change
            slotsInUse[lane]?.record(counts[lane, default: 0])
        }
    }

    func breaker(_ state: BreakerState) { breakerState.record(state.rawValue) }

    /// Brings the reconnect counter up to the connection's own count of recoveries.
    func connectionRecovered(total: Int) {
        let counted = reconnectsCounted.exchange(total, ordering: .relaxed)
        if total > counted { reconnects.increment(by: Int64(total - counted)) }
    }
}
