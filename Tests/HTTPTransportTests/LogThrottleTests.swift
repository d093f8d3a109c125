@testable import HTTPTransport
import Testing

@Suite struct LogThrottleTests {
    @Test func oneLinePerKeyAndIntervalThenTheCountLeftOut() {
        let throttle = LogThrottle(interval: .seconds(60))
        let start = ContinuousClock.now
        #expect(throttle.admit("refused 10.0.0.1", now: start) == 0)
        #expect(throttle.admit("refused 10.0.0.1", now: start + .seconds(1)) == nil)
        #expect(throttle.admit("refused 10.0.0.1", now: start + .seconds(59)) == nil)
        #expect(throttle.admit("refused 10.0.0.2", now: start + .seconds(2)) == 0, "another client is its own key")
        #expect(throttle.admit("refused 10.0.0.1", now: start + .seconds(60)) == 2, "the two left out, said with the next")
        #expect(throttle.admit("refused 10.0.0.1", now: start + .seconds(121)) == 0)
    }

    @Test func manyKeysDoNotGrowWithoutBound() {
        let throttle = LogThrottle(interval: .seconds(60))
        let start = ContinuousClock.now
        for index in 0..<5000 {
            _ = throttle.admit("refused 10.0.\(index / 256).\(index % 256)", now: start + .seconds(index))
        }
        #expect(throttle.trackedKeys <= 1024)
        // Past the interval, a key seen long ago is logged again as new.
        #expect(throttle.admit("refused 10.0.0.0", now: start + .seconds(5000)) == 0)
    }

    @Test func aFloodFromManyAddressesAtOnceIsCappedToo() {
        let throttle = LogThrottle(interval: .seconds(60))
        let now = ContinuousClock.now
        let logged = (0..<3000).count { throttle.admit("refused 10.1.\($0 / 256).\($0 % 256)", now: now) != nil }
        #expect(logged == 1024)
        #expect(throttle.trackedKeys == 1024)
        #expect(throttle.admit("refused 10.1.0.0", now: now + .seconds(1)) == nil, "a known key is still throttled")
        #expect(throttle.admit("refused 10.9.9.9", now: now + .seconds(61)) == 0, "once they age, new keys are logged again")
    }
}
