import Foundation
import Testing
@testable import Worker

/// The worker's decisions on their own: no broker, no SMSP, no clock but the one passed in.
@Suite("worker state machine: deliveries, duplicates, held redeliveries, breaker, draining, settling")
struct WorkerStateMachineTests {
    typealias Machine = WorkerStateMachine<String>

    /// A delivery is named by a string, e.g. "r1" (first delivery of request r1) or "r1'" (a redelivery).
    static func lookup(_ id: String, lane: LookupLane = .batch, attempts: Int = 0, redelivered: Bool = false,
                       deadline: Date? = nil, delivery: String? = nil) -> Machine.Lookup {
        Machine.Lookup(delivery: delivery ?? id, lane: lane, requestId: id, attempts: attempts,
                       redelivered: redelivered, receivedAt: Date(), deadline: deadline)
    }

    static func machine(capacity: Int = 4, reserved: Int = 1, threshold: Int = 2) -> Machine {
        Machine(scheduler: SlotScheduler(capacity: capacity, reservedForTriage: reserved),
                breaker: CircuitBreaker(failureThreshold: threshold, coolDown: .seconds(5), maximumCoolDown: .seconds(20)),
                rememberedRequests: 100)
    }

    /// The starts among actions: (delivery, slot, possibleRepeat).
    static func starts(_ actions: [Machine.Action]) -> [(delivery: String, slot: Int, possibleRepeat: Bool)] {
        actions.compactMap { if case .start(let lookup, let slot, let possibleRepeat) = $0 { (lookup.delivery, slot, possibleRepeat) } else { nil } }
    }

    static func acknowledged(_ actions: [Machine.Action]) -> [String] {
        actions.compactMap { if case .acknowledgeDuplicate(let delivery, _) = $0 { delivery } else { nil } }
    }

    static func givenBack(_ actions: [Machine.Action]) -> [String] {
        actions.compactMap { if case .giveBack(let delivery) = $0 { delivery } else { nil } }
    }

    let now = Date()

    @Test("work starts on free slots up to the bound; batch never takes the triage reserve")
    func bound() {
        var machine = Self.machine()
        var started: [(delivery: String, slot: Int, possibleRepeat: Bool)] = []
        for index in 0..<6 { started += Self.starts(machine.received(Self.lookup("b\(index)"), now: now)) }
        #expect(started.map(\.delivery) == ["b0", "b1", "b2"])
        let triage = Self.starts(machine.received(Self.lookup("t0", lane: .triage), now: now))
        #expect(triage.map(\.delivery) == ["t0"])
        #expect(Set((started + triage).map(\.slot)).count == 4)
        // A freed batch slot goes to the next batch lookup; the settled one is remembered.
        let next = Self.starts(machine.slotFreed(started[0].slot, lane: .batch, now: now))
        #expect(next.map(\.delivery) == ["b3"])
        #expect(Self.acknowledged(machine.settled(Self.lookup("b0"), .answered, now: now)).isEmpty)
        #expect(Self.acknowledged(machine.received(Self.lookup("b0", delivery: "b0'"), now: now)) == ["b0'"])
    }

    @Test("a redelivery while the request is in progress waits, and is acknowledged with it")
    func heldRedelivery() {
        var machine = Self.machine()
        #expect(Self.starts(machine.received(Self.lookup("r1"), now: now)).count == 1)
        // The connection was lost and the broker redelivered r1 to this same process.
        let held = machine.received(Self.lookup("r1", redelivered: true, delivery: "r1'"), now: now)
        #expect(held.isEmpty)
        _ = machine.slotFreed(0, lane: .batch, now: now)
        #expect(Self.acknowledged(machine.settled(Self.lookup("r1"), .answered, now: now)) == ["r1'"])
    }

    @Test("a retried attempt's redelivery is a duplicate; the retry itself is new work")
    func retries() {
        var machine = Self.machine()
        let first = Self.starts(machine.received(Self.lookup("r1"), now: now))
        _ = machine.slotFreed(first[0].slot, lane: .batch, now: now)
        _ = machine.settled(Self.lookup("r1"), .retried, now: now)
        #expect(Self.acknowledged(machine.received(Self.lookup("r1", redelivered: true, delivery: "r1'"), now: now)) == ["r1'"])
        let retry = Self.starts(machine.received(Self.lookup("r1", attempts: 1, delivery: "r1 retry"), now: now))
        #expect(retry.map(\.delivery) == ["r1 retry"])
        #expect(retry[0].possibleRepeat == false)
    }

    @Test("a request given back takes up its live redelivery again")
    func givenBackTakesUpRedelivery() {
        var machine = Self.machine()
        let first = Self.starts(machine.received(Self.lookup("r1"), now: now))
        _ = machine.received(Self.lookup("r1", redelivered: true, delivery: "r1'"), now: now)
        _ = machine.slotFreed(first[0].slot, lane: .batch, now: now)
        let again = Self.starts(machine.settled(Self.lookup("r1"), .givenBack, now: now))
        #expect(again.map(\.delivery) == ["r1'"])
    }

    @Test("only a redelivery this process knows nothing of may repeat a query")
    func possibleRepeat() {
        var machine = Self.machine()
        let fresh = Self.starts(machine.received(Self.lookup("a"), now: now))
        let orphan = Self.starts(machine.received(Self.lookup("b", redelivered: true), now: now))
        #expect(fresh.map(\.possibleRepeat) == [false])
        #expect(orphan.map(\.possibleRepeat) == [true])
    }

    @Test("an open breaker holds lookups without handing them back; one probe; closing starts the rest")
    func breaker() {
        var machine = Self.machine(capacity: 4, reserved: 0, threshold: 2)
        let clock = ContinuousClock.now
        let running = Self.starts((0..<2).flatMap { machine.received(Self.lookup("r\($0)"), now: now) })
        _ = machine.callFailed(at: clock)
        let opened = machine.callFailed(at: clock)
        #expect(opened.contains { if case .breaker(.opened) = $0 { true } else { false } })
        for slot in running.map(\.slot) { _ = machine.slotFreed(slot, lane: .batch, now: now) }
        var held: [Machine.Action] = []
        for index in 0..<5 { held += machine.received(Self.lookup("w\(index)"), now: now) }
        #expect(Self.starts(held).isEmpty)
        #expect(Self.givenBack(held).isEmpty, "nothing goes back to the broker: delivery counts stay as they were")
        #expect(Self.starts(machine.tick(at: clock + .seconds(4), now: now)).isEmpty)
        let probe = Self.starts(machine.tick(at: clock + .seconds(5), now: now))
        #expect(probe.map(\.delivery) == ["w0"])
        #expect(Self.starts(machine.tick(at: clock + .seconds(6), now: now)).isEmpty, "one probe at a time")
        _ = machine.received(Self.lookup("t0", lane: .triage), now: now)
        let closed = machine.callAnswered(now: now)
        #expect(Self.starts(closed).map(\.delivery) == ["t0", "w1", "w2"])
    }

    @Test("a probe is taken from batch work when there is any: a failed probe costs its lookup an attempt")
    func probeFromBatch() {
        var machine = Self.machine(capacity: 4, reserved: 1, threshold: 1)
        let clock = ContinuousClock.now
        let first = Self.starts(machine.received(Self.lookup("b0"), now: now))
        _ = machine.callFailed(at: clock)
        _ = machine.slotFreed(first[0].slot, lane: .batch, now: now)
        _ = machine.received(Self.lookup("t0", lane: .triage), now: now)
        _ = machine.received(Self.lookup("b1"), now: now)
        #expect(Self.starts(machine.tick(at: clock + .seconds(5), now: now)).map(\.delivery) == ["b1"])
    }

    @Test("a probe that made no call lets another through; a failed probe opens the breaker for longer")
    func probes() {
        var machine = Self.machine(capacity: 2, reserved: 0, threshold: 1)
        let clock = ContinuousClock.now
        let first = Self.starts(machine.received(Self.lookup("r0"), now: now))
        _ = machine.callFailed(at: clock)
        _ = machine.slotFreed(first[0].slot, lane: .batch, now: now)
        for index in 1...3 { _ = machine.received(Self.lookup("r\(index)"), now: now) }
        let probe = Self.starts(machine.tick(at: clock + .seconds(5), now: now))
        #expect(probe.map(\.delivery) == ["r1"])
        // r1 was refused at intake: no call, no verdict on the SMSP.
        let next = Self.starts(machine.slotFreed(probe[0].slot, lane: .batch, now: now))
        #expect(next.map(\.delivery) == ["r2"])
        let reopened = machine.callFailed(at: clock + .seconds(5))
        #expect(reopened.contains { if case .breaker(.opened(let until)) = $0 { until == clock + .seconds(15) } else { false } })
        _ = machine.slotFreed(next[0].slot, lane: .batch, now: now)
        #expect(Self.starts(machine.tick(at: clock + .seconds(14), now: now)).isEmpty)
    }

    @Test("while the breaker is open, a lookup past its deadline still starts, to be answered expired")
    func expiryWhileOpen() {
        var machine = Self.machine(capacity: 2, reserved: 0, threshold: 1)
        let clock = ContinuousClock.now
        let first = Self.starts(machine.received(Self.lookup("r0"), now: now))
        _ = machine.callFailed(at: clock)
        _ = machine.slotFreed(first[0].slot, lane: .batch, now: now)
        _ = machine.received(Self.lookup("patient", deadline: now.addingTimeInterval(1)), now: now)
        _ = machine.received(Self.lookup("impatient", deadline: now.addingTimeInterval(0.5)), now: now)
        #expect(Self.starts(machine.tick(at: clock + .milliseconds(100), now: now)).isEmpty)
        let expired = Self.starts(machine.tick(at: clock + .milliseconds(600), now: now.addingTimeInterval(0.6)))
        #expect(expired.map(\.delivery) == ["impatient"])
    }

    @Test("draining stops consuming and finishes what is held; drained once all is settled")
    func draining() {
        var machine = Self.machine(capacity: 2, reserved: 0)
        let started = Self.starts((0..<3).flatMap { machine.received(Self.lookup("r\($0)"), now: now) })
        #expect(started.count == 2)
        let drain = machine.drain()
        #expect(drain.contains { if case .stopConsuming = $0 { true } else { false } })
        #expect(Self.givenBack(drain).isEmpty, "held lookups are finished, not handed back")
        let third = Self.starts(machine.slotFreed(started[0].slot, lane: .batch, now: now))
        #expect(third.map(\.delivery) == ["r2"])
        _ = machine.slotFreed(started[1].slot, lane: .batch, now: now)
        _ = machine.slotFreed(third[0].slot, lane: .batch, now: now)
        _ = machine.settled(Self.lookup("r0"), .answered, now: now)
        _ = machine.settled(Self.lookup("r1"), .answered, now: now)
        let last = machine.settled(Self.lookup("r2"), .answered, now: now)
        #expect(last.contains { if case .drained = $0 { true } else { false } })
        #expect(machine.phase == .drained)
    }

    @Test("draining with the breaker open hands back what cannot be sent")
    func drainingWhileOpen() {
        var machine = Self.machine(capacity: 2, reserved: 0, threshold: 1)
        let first = Self.starts(machine.received(Self.lookup("r0"), now: now))
        _ = machine.callFailed(at: .now)
        _ = machine.received(Self.lookup("r1"), now: now)
        _ = machine.received(Self.lookup("r1", redelivered: true, delivery: "r1'"), now: now)
        let drain = machine.drain()
        #expect(Set(Self.givenBack(drain)) == ["r1", "r1'"])
        _ = machine.slotFreed(first[0].slot, lane: .batch, now: now)
        let last = machine.settled(Self.lookup("r0"), .retried, now: now)
        #expect(last.contains { if case .drained = $0 { true } else { false } })
        #expect(Self.givenBack(machine.received(Self.lookup("late"), now: now)) == ["late"])
    }

    @Test("whatever the order of events, the bound holds and nothing is handed back while running")
    func randomEvents() {
        var machine = Self.machine(capacity: 5, reserved: 2, threshold: 3)
        var generator = SystemRandomNumberGenerator()
        var clock = ContinuousClock.now
        var running: [(lookup: Machine.Lookup, slot: Int)] = []
        var unsettled: [Machine.Lookup] = []
        var received = 0
        func apply(_ actions: [Machine.Action]) {
            for action in actions {
                switch action {
                case .start(let lookup, let slot, _): running.append((lookup, slot))
                case .giveBack: Issue.record("handed back while running")
                default: break
                }
            }
        }
        for _ in 0..<5000 {
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<4:
                let lane: LookupLane = Bool.random(using: &generator) ? .triage : .batch
                apply(machine.received(Self.lookup("r\(received)", lane: lane), now: now))
                received += 1
            case 4..<7 where !running.isEmpty:
                let done = running.remove(at: Int.random(in: 0..<running.count, using: &generator))
                apply(Bool.random(using: &generator) ? machine.callAnswered(now: now) : machine.callFailed(at: clock))
                apply(machine.slotFreed(done.slot, lane: done.lookup.lane, now: now))
                unsettled.append(done.lookup)
            case 7..<9 where !unsettled.isEmpty:
                apply(machine.settled(unsettled.removeFirst(), .answered, now: now))
            default:
                clock += .seconds(1)
                apply(machine.tick(at: clock, now: now))
            }
            #expect(machine.scheduler.inFlight == running.count)
            #expect(running.count <= 5)
            #expect(running.filter { $0.lookup.lane == .batch }.count <= 3)
            #expect(Set(running.map(\.slot)).count == running.count)
        }
    }
}
