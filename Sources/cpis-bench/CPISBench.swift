import ArgumentParser

/// `cpis-bench`: benchmarks that print figures. Run through `Deploy/benchmark.sh`, which builds in
/// release mode and preloads the allocation counter.
@main
struct CPISBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpis-bench",
        abstract: "Benchmarks of the CP-IS SMSP worker's parts; prints figures, asserts nothing.",
        subcommands: [SMSPMessagesBenchmark.self, SimulatorBenchmark.self, WorkerBenchmark.self, FrontDoorBenchmark.self]
    )
}
