import ArgumentParser
import Foundation
import Logging
import SMSPSimulator

/// Where the benchmarks' in-process SMSP simulator finds its certificates and dataset, and how it is started.
struct SimulatorOptions: ParsableArguments {
    @Option(help: "Development certificates (Deploy/generate-certificates.sh makes them).")
    var certificates = ".local/certs"

    @Option(help: "The simulator's dataset.")
    var dataset = "Config/simulator-dataset.yaml"

    /// The simulator over mutual TLS on a free loopback port, started.
    func startServer(behaviour: SimulatorBehaviour = SimulatorBehaviour(), logger: Logger) throws -> SimulatorServer {
        var settings = SimulatorSettings()
        settings.port = 0
        settings.certificateFile = "\(certificates)/server.pem"
        settings.keyFile = "\(certificates)/server.key"
        settings.clientCAFile = "\(certificates)/ca.pem"
        let simulator = SMSPSimulator(dataset: try SimulatorDataset(contentsOf: URL(fileURLWithPath: dataset)),
                                      behaviour: behaviour)
        let server = try SimulatorServer(settings: settings, simulator: simulator, logger: logger)
        try server.start()
        return server
    }
}
