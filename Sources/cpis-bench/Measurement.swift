import Foundation
import MallocInterposerSwift

/// Runs an operation many times and reports latency percentiles and allocations per run.
///
/// Figures, not verdicts: nothing here asserts a time (shared machines are noisy). Allocations are
/// counted by malloc-interposer, which must be preloaded (`Deploy/benchmark.sh` does it).
struct Measurement {
    let name: String
    let iterations: Int
    let microseconds: [Double]
    let allocationsPerRun: Double
    let bytesPerRun: Double

    static func run(_ name: String, iterations: Int, warmUp: Int = 200, _ operation: () throws -> Void) rethrows
        -> Measurement
    {
        for _ in 0..<warmUp { try operation() }
        var samples: [Double] = []
        samples.reserveCapacity(iterations)
        let clock = ContinuousClock()
        MallocInterposerSwift.initialize()
        MallocInterposerSwift.reset()
        MallocInterposerSwift.hook()
        for _ in 0..<iterations {
            let elapsed = try clock.measure(operation)
            samples.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
        }
        MallocInterposerSwift.unhook()
        let statistics = MallocInterposerSwift.getStatistics()
        return Measurement(name: name, iterations: iterations, microseconds: samples.sorted(),
                           allocationsPerRun: Double(statistics.mallocCount) / Double(iterations),
                           bytesPerRun: Double(statistics.mallocBytesCount) / Double(iterations))
    }

    func percentile(_ fraction: Double) -> Double {
        microseconds[min(microseconds.count - 1, Int(Double(microseconds.count) * fraction))]
    }

    static func printTable(_ measurements: [Measurement]) {
        let interposed = measurements.contains { $0.allocationsPerRun > 0 }
        print("operation".padding(toLength: 44, withPad: " ", startingAt: 0)
              + "   runs     p50 µs     p90 µs     p99 µs   allocs/run   bytes/run")
        for m in measurements {
            let allocations = interposed ? String(format: "%12.1f%12.0f", m.allocationsPerRun, m.bytesPerRun)
                                         : "   (not counted)"
            print(m.name.padding(toLength: 44, withPad: " ", startingAt: 0)
                  + String(format: "%7d %10.1f %10.1f %10.1f", m.iterations, m.percentile(0.5), m.percentile(0.9),
                           m.percentile(0.99))
                  + allocations)
        }
        if !interposed {
            print("allocations not counted: run with LD_PRELOAD=<bin>/libMallocInterposerSwift.so (Deploy/benchmark.sh does)")
        }
    }
}
