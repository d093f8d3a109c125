import ArgumentParser

/// The one executable: `cpis <subcommand>`.
@main
struct CPIS: AsyncParsableCommand {
    /// The release; the next one is named here when it is cut.
    static let version = "0.9.0"

    static let configuration = CommandConfiguration(
        commandName: "cpis",
        abstract: "CP-IS lookups for unscheduled care, through a Spine Mini Service Provider, over RabbitMQ.",
        version: CPIS.version,
        subcommands: [WorkerCommand.self, FrontDoorCommand.self, LookupCommand.self, BatchCommand.self, DeadCommand.self, Simulator.self, SMSP.self, Spine.self, TopologyCommand.self, BrokerCheck.self]
    )
}
