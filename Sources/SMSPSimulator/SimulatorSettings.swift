import Foundation
import Yams

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
    public var behaviour = SimulatorBehaviour()

    public init() {}

    /// Reads `file` (when given), then applies `CPIS_SIMULATOR_*` variables from `environment`.
    public static func load(file: URL?, environment: [String: String]) throws(SimulatorConfigurationError)
        -> SimulatorSettings
    {
        var settings = SimulatorSettings()
        if let file {
            let text: String
            do {
                text = try String(contentsOf: file, encoding: .utf8)
            } catch {
                throw SimulatorConfigurationError("cannot read \(file.path): \(error.localizedDescription)")
            }
            let parsed: SettingsFile
            do {
                parsed = try YAMLDecoder().decode(SettingsFile.self, from: text)
            } catch {
                throw SimulatorConfigurationError("\(file.path): \(error)")
            }
            try settings.apply(parsed)
        }
        try settings.apply(environment: environment)
        return settings
    }

    private mutating func apply(_ file: SettingsFile) throws(SimulatorConfigurationError) {
        host = file.listen?.host ?? host
        port = file.listen?.port ?? port
        path = file.path ?? path
        plainHTTP = file.plainHTTP ?? plainHTTP
        certificateFile = file.tls?.certificate ?? certificateFile
        keyFile = file.tls?.key ?? keyFile
        clientCAFile = file.tls?.clientCA ?? clientCAFile
        endpointURL = file.endpointURL ?? endpointURL
        datasetFile = file.dataset ?? datasetFile
        if let latency = file.latency {
            behaviour.latency = try Self.latency(fixed: latency.fixedMs, median: latency.medianMs, p99: latency.p99Ms)
        }
        for (name, rate) in file.faults?.rates ?? [:] {
            behaviour.faultRates[try Self.fault(name)] = try Self.rate(rate, name)
        }
        for (number, name) in file.faults?.triggers ?? [:] {
            behaviour.faultTriggers[number] = try Self.fault(name)
        }
    }

    private mutating func apply(environment: [String: String]) throws(SimulatorConfigurationError) {
        func value(_ name: String) -> String? { environment["CPIS_SIMULATOR_\(name)"].flatMap { $0.isEmpty ? nil : $0 } }
        func number(_ name: String) throws(SimulatorConfigurationError) -> Int? {
            guard let text = value(name) else { return nil }
            guard let number = Int(text) else {
                throw SimulatorConfigurationError("CPIS_SIMULATOR_\(name)='\(text)' is not a whole number")
            }
            return number
        }
        host = value("HOST") ?? host
        port = try number("PORT") ?? port
        path = value("PATH") ?? path
        if let plain = value("PLAIN_HTTP") { plainHTTP = ["1", "true", "yes"].contains(plain.lowercased()) }
        certificateFile = value("TLS_CERT") ?? certificateFile
        keyFile = value("TLS_KEY") ?? keyFile
        clientCAFile = value("TLS_CLIENT_CA") ?? clientCAFile
        endpointURL = value("ENDPOINT_URL") ?? endpointURL
        datasetFile = value("DATASET") ?? datasetFile
        let fixed = try number("LATENCY_MS"), median = try number("LATENCY_MEDIAN_MS"), p99 = try number("LATENCY_P99_MS")
        if fixed != nil || median != nil || p99 != nil {
            behaviour.latency = try Self.latency(fixed: fixed, median: median, p99: p99)
        }
        for (name, text) in Self.pairs(value("FAULT_RATES")) {
            guard let rate = Double(text) else {
                throw SimulatorConfigurationError("CPIS_SIMULATOR_FAULT_RATES: '\(text)' is not a number")
            }
            behaviour.faultRates[try Self.fault(name)] = try Self.rate(rate, name)
        }
        for (number, name) in Self.pairs(value("FAULT_TRIGGERS")) {
            behaviour.faultTriggers[number] = try Self.fault(name)
        }
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

    private struct SettingsFile: Decodable {
        struct Listen: Decodable { var host: String?; var port: Int? }
        struct TLS: Decodable { var certificate: String?; var key: String?; var clientCA: String? }
        struct Latency: Decodable { var fixedMs: Int?; var medianMs: Int?; var p99Ms: Int? }
        struct Faults: Decodable { var rates: [String: Double]?; var triggers: [String: String]? }
        var listen: Listen?
        var path: String?
        var tls: TLS?
        var plainHTTP: Bool?
        var endpointURL: String?
        var dataset: String?
        var latency: Latency?
        var faults: Faults?
    }
}
