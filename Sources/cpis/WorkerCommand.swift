import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Worker

/// `cpis worker`: the product. Consumes lookups and answers every one.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Consume CP-IS lookups from RabbitMQ, ask the SMSP, publish results and access notifications.",
        discussion: """
            Settings: Config/worker.yaml (every key documented there), overridden by CPIS_* environment variables. \
            On SIGTERM or SIGINT it stops taking work, lets the lookups it holds finish within the grace period and \
            exits 0; a second signal stops it at once (unsettled requests go back to their queue).
            """
    )

    @Option(help: "Settings file.")
    var config = "Config/worker.yaml"

    func run() async throws {
        var logger = Logger(label: "cpis.worker")
        logger.logLevel = .info
        let file = FileManager.default.fileExists(atPath: config) ? URL(fileURLWithPath: config) : nil
        if file == nil { logger.warning("no settings file at \(config): using defaults and the environment") }
        let configuration = try WorkerConfiguration.load(file: file, environment: ProcessInfo.processInfo.environment)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: LookupWorkerService(configuration: configuration, logger: logger))],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
