import ArgumentParser

/// The one executable: `cpis <subcommand>`.
@main
struct CPIS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpis",
        abstract: "CP-IS lookups for unscheduled care, through a Spine Mini Service Provider, over RabbitMQ.",
        subcommands: [WorkerCommand.self, LookupCommand.self, Simulator.self, SMSP.self, TopologyCommand.self, BrokerCheck.self]
    )
}
