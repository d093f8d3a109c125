import Foundation
import SMSPSimulator
import Testing

@Suite("SMSP simulator settings")
struct SimulatorSettingsTests {
    static let file = Fixture.packageRoot.appending(path: "Config/simulator.yaml")

    @Test("the shipped file loads with its documented defaults")
    func shippedFile() async throws {
        let settings = try await SimulatorSettings.load(file: Self.file, environment: [:])
        #expect(settings.port == 8443)
        #expect(settings.path == "/smsp/cpis")
        #expect(!settings.plainHTTP)
        #expect(settings.clientCAFile == ".local/certs/ca.pem")
        #expect(settings.behaviour == SimulatorBehaviour())
        #expect(settings.endpointURL == nil)
    }

    @Test("the environment overrides the file")
    func environment() async throws {
        let settings = try await SimulatorSettings.load(file: Self.file, environment: [
            "CPIS_SIMULATOR_LISTEN_PORT": "9443", "CPIS_SIMULATOR_PLAIN_HTTP": "true",
            "CPIS_SIMULATOR_LATENCY_MEDIAN_MS": "120", "CPIS_SIMULATOR_LATENCY_P99_MS": "900",
            "CPIS_SIMULATOR_FAULT_RATES": "http-503=0.01, no-response=0.002",
            "CPIS_SIMULATOR_FAULT_TRIGGERS": "9990000093=reset-mid-body",
        ])
        #expect(settings.port == 9443)
        #expect(settings.plainHTTP)
        #expect(settings.behaviour.latency == .distribution(median: .milliseconds(120), p99: .milliseconds(900)))
        #expect(settings.behaviour.faultRates == [.http503: 0.01, .noResponse: 0.002])
        #expect(settings.behaviour.faultTriggers == ["9990000093": .resetMidBody])
    }

    @Test("a setting it cannot use is refused, saying why", arguments: [
        ("CPIS_SIMULATOR_FAULT_RATES", "http-404=0.1", "is not a fault"),
        ("CPIS_SIMULATOR_FAULT_RATES", "http-503=2", "between 0 and 1"),
        ("CPIS_SIMULATOR_PORT", "eighty", "not a whole number"),
        ("CPIS_SIMULATOR_LISTEN_PORT", "eighty", "CPIS_SIMULATOR_LISTEN_PORT"),
        ("CPIS_SIMULATOR_LATENCY_MEDIAN_MS", "100", "both medianMs and p99Ms"),
    ])
    func refused(name: String, value: String, message: String) async {
        let error = await #expect(throws: (any Error).self) {
            try await SimulatorSettings.load(file: Self.file, environment: [name: value])
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains(message), "\(error.map { "\($0)" } ?? "")")
    }
}
