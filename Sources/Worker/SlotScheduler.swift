/// Which queue a lookup came from: triage is interactive, batch is bulk.
public enum LookupLane: String, Sendable, Hashable, CaseIterable {
    case triage
    case batch
}

/// Decides when a received lookup may start its SMSP call, so that at most `capacity` calls are in
/// flight and a shift-start batch never makes a triage lookup wait behind it: batch lookups may use
/// at most `capacity - reservedForTriage` slots, triage lookups any free slot, and a freed slot
/// goes to waiting triage work first.
///
/// A value type without locks or side effects: the owner keeps it behind a lock and carries out
/// the returned starts (the state-machine pattern).
struct SlotScheduler<Work> {
    let capacity: Int
    let reservedForTriage: Int
    private(set) var running: [LookupLane: Int] = [.triage: 0, .batch: 0]
    private var waiting: [LookupLane: [Work]] = [.triage: [], .batch: []]

    init(capacity: Int, reservedForTriage: Int) {
        precondition(capacity > 0 && (0..<capacity).contains(reservedForTriage),
                     "capacity must be positive and the triage reserve smaller than it")
        self.capacity = capacity
        self.reservedForTriage = reservedForTriage
    }

    /// The broker's prefetch for each lane's consumer: the lane's share of the slots, so that work
    /// waits in the broker rather than here.
    func prefetch(for lane: LookupLane) -> Int {
        lane == .triage ? capacity : capacity - reservedForTriage
    }

    var inFlight: Int { running.values.reduce(0, +) }
    var waitingCount: Int { waiting.values.reduce(0) { $0 + $1.count } }

    /// Accepts received work; returns what may start now.
    mutating func submit(_ work: Work, lane: LookupLane) -> [(Work, LookupLane)] {
        waiting[lane, default: []].append(work)
        return startable()
    }

    /// Frees a slot; returns what may start now.
    mutating func finish(lane: LookupLane) -> [(Work, LookupLane)] {
        running[lane, default: 0] -= 1
        return startable()
    }

    /// Takes back everything not yet started (e.g. to return it to the broker on shutdown).
    mutating func drainWaiting() -> [Work] {
        defer { waiting = [.triage: [], .batch: []] }
        return (waiting[.triage] ?? []) + (waiting[.batch] ?? [])
    }

    private mutating func startable() -> [(Work, LookupLane)] {
        var started: [(Work, LookupLane)] = []
        while inFlight < capacity {
            if let work = waiting[.triage]?.first {
                waiting[.triage]?.removeFirst()
                running[.triage, default: 0] += 1
                started.append((work, .triage))
            } else if running[.batch, default: 0] < capacity - reservedForTriage, let work = waiting[.batch]?.first {
                waiting[.batch]?.removeFirst()
                running[.batch, default: 0] += 1
                started.append((work, .batch))
            } else {
                break
            }
        }
        return started
    }
}
