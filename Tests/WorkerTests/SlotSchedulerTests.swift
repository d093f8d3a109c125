import Testing
@testable import Worker

@Suite("slot scheduler: bounded calls, triage never waits behind a batch")
struct SlotSchedulerTests {
    @Test("a batch flood uses only its share; triage starts at once")
    func triageReserve() {
        var scheduler = SlotScheduler<Int>(capacity: 4, reservedForTriage: 1)
        #expect(scheduler.prefetch(for: .batch) == 3)
        #expect(scheduler.prefetch(for: .triage) == 4)
        var started: [(Int, LookupLane)] = []
        for id in 0..<10 { started += scheduler.submit(id, lane: .batch) }
        #expect(started.map(\.0) == [0, 1, 2])
        #expect(scheduler.inFlight == 3)
        #expect(scheduler.submit(100, lane: .triage).map(\.0) == [100])
        #expect(scheduler.inFlight == 4)
        // A second triage lookup waits only for a slot, and gets the next one before any batch work.
        #expect(scheduler.submit(101, lane: .triage).isEmpty)
        #expect(scheduler.finish(lane: .batch).map(\.0) == [101])
        #expect(scheduler.finish(lane: .triage).map(\.0) == [3])  // batch back to its share of 3
        // The last slot stays free for triage even though batch work is waiting.
        #expect(scheduler.finish(lane: .triage).isEmpty)
        #expect(scheduler.inFlight == 3)
        #expect(scheduler.waitingCount == 6)
    }

    @Test("never more than capacity in flight, whatever the mix")
    func capacityHolds() {
        var scheduler = SlotScheduler<Int>(capacity: 5, reservedForTriage: 2)
        var generator = SystemRandomNumberGenerator()
        var running: [LookupLane] = []
        var submitted = 0, finished = 0
        for _ in 0..<2000 {
            if running.isEmpty || (submitted < 1000 && Bool.random(using: &generator)) {
                let lane: LookupLane = Int.random(in: 0..<4, using: &generator) == 0 ? .triage : .batch
                running += scheduler.submit(submitted, lane: lane).map(\.1)
                submitted += 1
            } else {
                let lane = running.remove(at: Int.random(in: 0..<running.count, using: &generator))
                running += scheduler.finish(lane: lane).map(\.1)
                finished += 1
            }
            #expect(scheduler.inFlight <= 5)
            #expect(scheduler.running[.batch, default: 0] <= 3)
            #expect(scheduler.inFlight == running.count)
        }
        #expect(scheduler.drainWaiting().count + running.count + finished == submitted)
    }
}
