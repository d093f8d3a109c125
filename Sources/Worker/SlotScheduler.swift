/// Which queue a lookup came from: triage is interactive, batch is bulk.
public enum LookupLane: String, Sendable, Hashable, CaseIterable {
    case triage
    case batch
}

/// Decides when received work may start and on which slot, so that at most `capacity` SMSP calls
/// are in flight and a shift-start batch never makes a triage lookup wait behind it: batch work may
/// use at most `capacity - reservedForTriage` slots, triage work any free slot, and a freed slot
/// goes to waiting triage work first.
///
/// Each slot is one serial Dispatch queue in the worker, so a started piece of work runs at once on
/// a thread of its own: the bound is the number of slots, not whatever Dispatch's thread pool
/// happens to have grown to.
///
/// A value type without locks or side effects: its owner keeps it behind a lock and carries out the
/// returned starts (the state-machine pattern).
struct SlotScheduler<Work> {
    struct Started {
        var work: Work
        var lane: LookupLane
        var slot: Int
    }

    let capacity: Int
    let reservedForTriage: Int
    private(set) var running: [LookupLane: Int] = [.triage: 0, .batch: 0]
    private var waiting: [LookupLane: [Work]] = [.triage: [], .batch: []]
    /// Free slot numbers; the most recently freed is reused first (its thread is the warmest).
    private var freeSlots: [Int]

    init(capacity: Int, reservedForTriage: Int) {
        precondition(capacity > 0 && (0..<capacity).contains(reservedForTriage),
                     "capacity must be positive and the triage reserve smaller than it")
        self.capacity = capacity
        self.reservedForTriage = reservedForTriage
        freeSlots = Array((0..<capacity).reversed())
    }

    var batchShare: Int { capacity - reservedForTriage }
    var inFlight: Int { capacity - freeSlots.count }
    var waitingCount: Int { waiting.values.reduce(0) { $0 + $1.count } }
    var isIdle: Bool { inFlight == 0 && waitingCount == 0 }

    /// Accepts received work; it starts on the next ``startWaiting(limit:)``.
    mutating func enqueue(_ work: Work, lane: LookupLane) {
        waiting[lane, default: []].append(work)
    }

    /// Frees a slot.
    mutating func release(slot: Int, lane: LookupLane) {
        precondition(!freeSlots.contains(slot), "slot \(slot) released twice")
        running[lane, default: 0] -= 1
        freeSlots.append(slot)
    }

    /// Starts waiting work on free slots, at most `limit` pieces (and only those `eligible`
    /// allows), taking the lanes in `order`: triage first, unless told otherwise.
    mutating func startWaiting(limit: Int = .max, order: [LookupLane] = [.triage, .batch],
                               eligible: (Work) -> Bool = { _ in true }) -> [Started] {
        var started: [Started] = []
        while started.count < limit, !freeSlots.isEmpty {
            var next: (LookupLane, Int)?
            for lane in order where lane == .triage || running[.batch, default: 0] < batchShare {
                if let index = waiting[lane]?.firstIndex(where: eligible) {
                    next = (lane, index)
                    break
                }
            }
            guard let (lane, index) = next else { break }
            started.append(take(lane, at: index))
        }
        return started
    }

    /// Takes back everything not yet started.
    mutating func drainWaiting() -> [Work] {
        defer { waiting = [.triage: [], .batch: []] }
        return (waiting[.triage] ?? []) + (waiting[.batch] ?? [])
    }

    private mutating func take(_ lane: LookupLane, at index: Int) -> Started {
        let work = waiting[lane]!.remove(at: index)
        running[lane, default: 0] += 1
        return Started(work: work, lane: lane, slot: freeSlots.removeLast())
    }
}
