import Testing
@testable import Worker

@Suite("circuit breaker")
struct CircuitBreakerTests {
    @Test("opens after the threshold, probes after the cool-down, closes on success")
    func lifecycle() {
        var breaker = CircuitBreaker(failureThreshold: 3, coolDown: .seconds(5), maximumCoolDown: .seconds(60))
        let start = ContinuousClock.now
        #expect(breaker.recordTransientFailure(now: start) == .none)
        #expect(breaker.recordSuccess() == .none)  // a success resets the count
        #expect(breaker.recordTransientFailure(now: start) == .none)
        #expect(breaker.recordTransientFailure(now: start) == .none)
        #expect(breaker.recordTransientFailure(now: start) == .opened(until: start + .seconds(5)))
        #expect(!breaker.allowsCalls)
        #expect(breaker.tick(now: start + .seconds(4)) == .none)
        #expect(breaker.tick(now: start + .seconds(5)) == .probe)
        #expect(breaker.allowsCalls)
        #expect(breaker.recordSuccess() == .closed)
        #expect(breaker.state == .closed(consecutiveFailures: 0))
    }

    @Test("a failed probe opens it again for twice as long, up to the maximum")
    func backoff() {
        var breaker = CircuitBreaker(failureThreshold: 1, coolDown: .seconds(10), maximumCoolDown: .seconds(25))
        var now = ContinuousClock.now
        #expect(breaker.recordTransientFailure(now: now) == .opened(until: now + .seconds(10)))
        now += .seconds(10)
        #expect(breaker.tick(now: now) == .probe)
        #expect(breaker.recordTransientFailure(now: now) == .opened(until: now + .seconds(20)))
        now += .seconds(20)
        #expect(breaker.tick(now: now) == .probe)
        #expect(breaker.recordTransientFailure(now: now) == .opened(until: now + .seconds(25)))
    }
}
