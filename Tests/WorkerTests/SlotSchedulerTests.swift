import Testing
@testable import Worker

@Suite("slot scheduler: bounded calls, triage never waits behind a batch")
struct SlotSchedulerTests {
    @Test("a batch flood uses only its share; triage starts at once, on a free slot")
    func triageReserve() {
        var scheduler = SlotScheduler<Int>(capacity: 4, reservedForTriage: 1)
        #expect(scheduler.batchShare == 3)
        for id in 0..<10 { scheduler.enqueue(id, lane: .batch) }
        let batch = scheduler.startWaiting()
        #expect(batch.map(\.work) == [0, 1, 2])
        #expect(Set(batch.map(\.slot)).count == 3)
        #expect(scheduler.inFlight == 3)
        scheduler.enqueue(100, lane: .triage)
        let triage = scheduler.startWaiting()
        #expect(triage.map(\.work) == [100])
        #expect(!batch.map(\.slot).contains(triage[0].slot))
        // A second triage lookup waits only for a slot, and gets the next one before any batch work.
        scheduler.enqueue(101, lane: .triage)
        #expect(scheduler.startWaiting().isEmpty)
        scheduler.release(slot: batch[0].slot, lane: .batch)
        let next = scheduler.startWaiting()
        #expect(next.map(\.work) == [101])
        #expect(next[0].slot == batch[0].slot)
        scheduler.release(slot: triage[0].slot, lane: .triage)
        #expect(scheduler.startWaiting().map(\.work) == [3])  // batch back to its share of 3
        // The last slot stays free for triage even though batch work is waiting.
        scheduler.release(slot: next[0].slot, lane: .triage)
        #expect(scheduler.startWaiting().isEmpty)
        #expect(scheduler.inFlight == 3)
        #expect(scheduler.waitingCount == 6)
    }

    @Test("a limit and an eligibility test narrow what starts")
    func limitAndEligibility() {
        var scheduler = SlotScheduler<Int>(capacity: 4, reservedForTriage: 0)
        for id in 0..<4 { scheduler.enqueue(id, lane: .batch) }
        #expect(scheduler.startWaiting(limit: 1).map(\.work) == [0])
        #expect(scheduler.startWaiting(eligible: { $0 == 2 }).map(\.work) == [2])
        #expect(scheduler.drainWaiting() == [1, 3])
        #expect(scheduler.inFlight == 2)
    }

    @Test("never more than capacity in flight, each slot used by one piece of work at a time")
    func capacityHolds() {
        var scheduler = SlotScheduler<Int>(capacity: 5, reservedForTriage: 2)
        var generator = SystemRandomNumberGenerator()
        var running: [SlotScheduler<Int>.Started] = []
        var submitted = 0, finished = 0
        for _ in 0..<2000 {
            if running.isEmpty || (submitted < 1000 && Bool.random(using: &generator)) {
                let lane: LookupLane = Int.random(in: 0..<4, using: &generator) == 0 ? .triage : .batch
                scheduler.enqueue(submitted, lane: lane)
                submitted += 1
            } else {
                let done = running.remove(at: Int.random(in: 0..<running.count, using: &generator))
                scheduler.release(slot: done.slot, lane: done.lane)
                finished += 1
            }
            running += scheduler.startWaiting()
            #expect(scheduler.inFlight <= 5)
            #expect(scheduler.running[.batch, default: 0] <= 3)
            #expect(scheduler.inFlight == running.count)
            #expect(Set(running.map(\.slot)).count == running.count)
        }
        #expect(scheduler.drainWaiting().count + running.count + finished == submitted)
    }
}
