import ArgumentParser
import Foundation
import Worker

/// `cpis topology`: the contract's topology as a RabbitMQ definitions file.
struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Print the queues, exchanges and bindings the worker declares, as a RabbitMQ definitions file.",
        discussion: "Deploy/rabbitmq-definitions.json is this output for the default names (a test keeps it so)."
    )

    @Option(help: "Settings file (for the names and retry steps).")
    var config = "Config/worker.yaml"

    @Option(help: "The virtual host the definitions are for.")
    var vhost = "/"

    func run() throws {
        let file = FileManager.default.fileExists(atPath: config) ? URL(fileURLWithPath: config) : nil
        let configuration = try WorkerConfiguration.load(file: file, environment: [:])
        print(configuration.worker.topology.definitionsJSON(virtualHost: vhost), terminator: "")
    }
}
