import ArgumentParser
import Foundation
import Logging
import Worker

/// `cpis worker`: the product. Consumes lookups and answers every one.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Consume CP-IS lookups from RabbitMQ, ask the SMSP, publish results and access notifications.",
        discussion: """
            Settings: Config/worker.yaml (every key documented there), overridden by CPIS_* environment variables. \
            On SIGTERM or SIGINT it stops taking work, lets in-flight lookups finish within the grace period, \
            returns the rest to the broker and exits 0.
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
        let worker = try await LookupWorker.start(configuration, logger: logger)
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                waitForTermination()
                continuation.resume()
            }
        }
        logger.info("termination requested: finishing in-flight lookups")
        await worker.shutdown()
    }
}
