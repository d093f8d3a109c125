import Foundation
import Settings

/// Everything `cpis simulator` is configured with (`Config/simulator.yaml`, then the environment).
public struct SimulatorSettings: Sendable, Hashable {
    public var host = "127.0.0.1"
    public var port = 8443
    public var path = "/smsp/cpis"
    public var plainHTTP = false
    public var certificateFile: String? = ".local/certs/server.pem"
    public var keyFile: String? = ".local/certs/server.key"
    public var clientCAFile: String? = ".local/certs/ca.pem"
    public var endpointURL: String?
    public var datasetFile = "Config/simulator-dataset.yaml"
    /// Answer as Spine's CP-IS (HL7 V3 QUPC_IN000006GB01), for a worker whose upstream is Spine.
    public var spine = false
    public var behaviour = SimulatorBehaviour()

    public init() {}

    /// Every setting `cpis simulator` reads; its environment variables are `CPIS_SIMULATOR_` and the
    /// key in upper snake case (`latency.medianMs` → `CPIS_SIMULATOR_LATENCY_MEDIAN_MS`).
    public static let schema = SettingsSchema(
        keys: ["listen.host", "listen.port", "path", "plainHTTP", "tls.certificate", "tls.key", "tls.clientCA",
               "endpointURL", "dataset", "latency.fixedMs", "latency.medianMs", "latency.p99Ms", "spine"],
        openMaps: ["faults.rates", "faults.triggers"],
        legacyEnvironment: [
            "CPIS_SIMULATOR_HOST": "listen.host", "CPIS_SIMULATOR_PORT": "listen.port",
            "CPIS_SIMULATOR_TLS_CERT": "tls.certificate", "CPIS_SIMULATOR_LATENCY_MS": "latency.fixedMs",
            "CPIS_SIMULATOR_LATENCY_P99_MS": "latency.p99Ms", "CPIS_SIMULATOR_FAULT_RATES": "faults.rates",
            "CPIS_SIMULATOR_FAULT_TRIGGERS": "faults.triggers",
        ],
        environmentPrefix: "cpis.simulator")

    /// Reads `file` (when given), secrets from files and the environment (see ``SettingsReader``).
    public static func load(file: URL?, environment: [String: String]) async throws -> SimulatorSettings {
        let reader = try await SettingsReader.load(file: file, environment: environment, schema: schema)
        var settings = SimulatorSettings()
        settings.host = reader.string("listen.host", default: settings.host)
        settings.port = try reader.int("listen.port", default: settings.port)
        settings.path = reader.string("path", default: settings.path)
        settings.plainHTTP = try reader.bool("plainHTTP", default: settings.plainHTTP)
        settings.certificateFile = reader.string("tls.certificate") ?? settings.certificateFile
        settings.keyFile = reader.string("tls.key") ?? settings.keyFile
        settings.clientCAFile = reader.string("tls.clientCA") ?? settings.clientCAFile
        settings.endpointURL = reader.string("endpointURL")
        settings.datasetFile = reader.string("dataset", default: settings.datasetFile)
        settings.spine = try reader.bool("spine", default: settings.spine)
        settings.behaviour.latency = try latency(fixed: reader.int("latency.fixedMs"), median: reader.int("latency.medianMs"),
                                                 p99: reader.int("latency.p99Ms"))
        // Faults: "name=value,..." in the environment, which comes first; a map in the file.
        let rates: [(String, Double)]
        if let text = reader.string("faults.rates") {
            rates = try pairs(text).map { name, value throws(SimulatorConfigurationError) in
                guard let rate = Double(value) else { throw SimulatorConfigurationError("faults.rates: '\(value)' is not a number") }
                return (name, rate)
            }
        } else {
            rates = try reader.numbers("faults.rates")?.map { ($0.key, $0.value) } ?? []
        }
        for (name, rate) in rates {
            settings.behaviour.faultRates[try fault(name)] = try Self.rate(rate, name)
        }
        let triggers = try reader.string("faults.triggers").map(pairs)
            ?? reader.texts("faults.triggers")?.map { ($0.key, $0.value) } ?? []
        for (number, name) in triggers {
            settings.behaviour.faultTriggers[number] = try fault(name)
        }
        return settings
    }

    /// "a=1,b=2" → [("a", "1"), ("b", "2")].
    private static func pairs(_ text: String?) -> [(String, String)] {
        (text ?? "").split(separator: ",").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
    }

    static func latency(fixed: Int?, median: Int?, p99: Int?) throws(SimulatorConfigurationError) -> SimulatorLatency {
        switch (median, p99) {
        case (let median?, let p99?):
            guard median >= 0, p99 >= median else {
                throw SimulatorConfigurationError("latency: p99Ms (\(p99)) must be at least medianMs (\(median))")
            }
            return .distribution(median: .milliseconds(median), p99: .milliseconds(p99))
        case (nil, nil):
            guard let fixed, fixed > 0 else { return .none }
            return .fixed(.milliseconds(fixed))
        default:
            throw SimulatorConfigurationError("latency: set both medianMs and p99Ms for a distribution")
        }
    }

    static func fault(_ name: String) throws(SimulatorConfigurationError) -> SimulatorFault {
        guard let fault = SimulatorFault(rawValue: name) else {
            throw SimulatorConfigurationError("'\(name)' is not a fault: use one of "
                + SimulatorFault.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return fault
    }

    private static func rate(_ rate: Double, _ name: String) throws(SimulatorConfigurationError) -> Double {
        guard (0...1).contains(rate) else {
            throw SimulatorConfigurationError("the rate of \(name) must be between 0 and 1 (got \(rate))")
        }
        return rate
    }
}
