import ArgumentParser
import Foundation
import Worker

/// `cpis topology`: the contract's topology as a RabbitMQ definitions file.
struct TopologyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Print the queues, exchanges and bindings the worker declares, as a RabbitMQ definitions file.",
        discussion: "Deploy/rabbitmq-definitions.json is this output for the default names (a test keeps it so)."
    )

    @Option(help: "Settings file, for the names and retry steps (default: Config/worker.yaml if it exists).")
    var config: String?

    @Option(help: "The virtual host the definitions are for.")
    var vhost = "/"

    func run() async throws {
        let file = try settingsFile(named: config, default: "Config/worker.yaml")
        let topology = try await WorkerConfiguration.loadBrokerAndTopology(file: file, environment: [:],
                                                                           connectionName: "cpis topology").topology
        print(topology.definitionsJSON(virtualHost: vhost), terminator: "")
    }
}
