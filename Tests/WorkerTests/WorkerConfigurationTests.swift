import Foundation
import Testing
@testable import Worker

@Suite("worker settings")
struct WorkerConfigurationTests {
    static let shipped = WorkerRig.packageRoot.appending(path: "Config/worker.yaml")

    @Test("Config/worker.yaml documents the defaults the code has (each default lives in the code, once)")
    func shippedMatchesDefaults() async throws {
        let fromFile = try await WorkerConfiguration.load(file: Self.shipped, environment: [:])
        let fromDefaults = try await WorkerConfiguration.load(file: nil, environment: [
            // The file points at the development certificates; the defaults name none.
            "CPIS_SMSP_TLS_CA": ".local/certs/ca.pem", "CPIS_SMSP_TLS_CERTIFICATE": ".local/certs/client.pem",
            "CPIS_SMSP_TLS_KEY": ".local/certs/client.key",
        ])
        #expect(fromFile.worker.topology == fromDefaults.worker.topology)
        #expect(fromFile.worker.maximumInFlight == fromDefaults.worker.maximumInFlight)
        #expect(fromFile.worker.reservedForTriage == fromDefaults.worker.reservedForTriage)
        #expect(fromFile.worker.maximumAttempts == fromDefaults.worker.maximumAttempts)
        #expect(fromFile.worker.smspTimeout == fromDefaults.worker.smspTimeout)
        #expect(fromFile.worker.shutdownGracePeriod == fromDefaults.worker.shutdownGracePeriod)
        #expect(fromFile.worker.breakerCoolDown == fromDefaults.worker.breakerCoolDown)
        #expect(fromFile.worker.breakerMaximumCoolDown == fromDefaults.worker.breakerMaximumCoolDown)
        #expect(fromFile.worker.breakerFailureThreshold == fromDefaults.worker.breakerFailureThreshold)
        #expect(fromFile.worker.maximumBodyBytes == fromDefaults.worker.maximumBodyBytes)
        #expect(fromFile.smspIdentity == fromDefaults.smspIdentity)
        #expect(fromFile.broker.redactedURL == fromDefaults.broker.redactedURL)
        #expect(fromFile.monitoring?.port == fromDefaults.monitoring?.port)
        #expect(fromFile.monitoring?.host == fromDefaults.monitoring?.host)
        #expect(fromFile.logLevel == fromDefaults.logLevel && fromFile.logFormat == fromDefaults.logFormat)
        #expect(fromFile.worker.authorisation.odsCodesByUser == nil)
    }

    @Test("every setting by the naming rule, and the older documented names still")
    func environment() async throws {
        // A broker off this machine needs the authorisation map, which only the file holds.
        let file = try Self.settingsFile("authorisation:\n  users:\n    epr-whittington: [RKE]\n"
            + "smsp:\n  tls: { ca: .local/certs/ca.pem, certificate: .local/certs/client.pem, key: .local/certs/client.key }\n")
        defer { try? FileManager.default.removeItem(at: file) }
        let configuration = try await WorkerConfiguration.load(file: file, environment: [
            "CPIS_CIRCUIT_BREAKER_COOL_DOWN_MS": "750", "CPIS_TOPOLOGY_TRIAGE": "site.triage",
            "CPIS_WORKER_MAX_IN_FLIGHT": "12", "CPIS_AMQP_URL": "amqp://epr@broker.example:5672/cpis",
            "CPIS_MONITORING_ENABLED": "false", "CPIS_LOGGING_FORMAT": "json",
        ])
        #expect(configuration.worker.breakerCoolDown == .milliseconds(750))
        #expect(configuration.worker.topology.triage == "site.triage")
        #expect(configuration.worker.maximumInFlight == 12)
        #expect(configuration.broker.redactedURL.contains("broker.example"))
        #expect(configuration.monitoring == nil)
        #expect(configuration.logFormat == .json)
    }

    static func settingsFile(_ yaml: String) throws -> URL {
        let file = FileManager.default.temporaryDirectory.appending(path: "worker-\(UUID().uuidString).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// As the front door does: open (every broker user may act for any organisation) only where
    /// nothing but this machine reaches the broker.
    @Test("the worker fails closed: without an authorisation map it refuses to start unless its broker is on loopback")
    func workerFailsClosedWithoutAuthorisationOffLoopback() async throws {
        let smsp = "http://smsp.local/cpis"  // no TLS settings needed
        for url in ["amqp://guest@broker.example:5672/", "amqp://epr@10.1.2.3:5672/cpis"] {
            let refusal = await #expect(throws: (any Error).self) {
                _ = try await WorkerConfiguration.load(file: nil, environment: ["CPIS_BROKER_URL": url, "CPIS_SMSP_ENDPOINT": smsp])
            }
            let said = refusal.map { "\($0)" } ?? ""
            #expect(said.contains("authorisation.users") && said.contains("is needed with the broker on"), "\(said)")
        }
        // One node of a cluster off this machine is enough to refuse.
        await #expect(throws: (any Error).self) {
            _ = try await WorkerConfiguration.load(file: nil, environment: [
                "CPIS_BROKER_URL": "amqp://guest@127.0.0.1:5672/", "CPIS_BROKER_NODES": "127.0.0.1:5673,rabbit-2.internal:5672",
                "CPIS_SMSP_ENDPOINT": smsp])
        }
        for url in ["amqp://guest@127.0.0.1:5672/", "amqp://guest@localhost:5672/", "amqp://guest@127.0.0.2:5672/",
                    "amqp://guest@[::1]:5672/"] {
            let open = try await WorkerConfiguration.load(file: nil, environment: ["CPIS_BROKER_URL": url, "CPIS_SMSP_ENDPOINT": smsp])
            #expect(open.worker.authorisation.odsCodesByUser == nil, "loopback, local development: \(url)")
        }
    }

    @Test("authorisation from the file")
    func authorisation() async throws {
        let file = try Self.settingsFile(
            "authorisation:\n  users:\n    epr-whittington: [RKE]\n    shift-batch: [RKE, RAL]\nsmsp: { endpoint: http://smsp.local/cpis }\n")
        defer { try? FileManager.default.removeItem(at: file) }
        let configuration = try await WorkerConfiguration.load(file: file, environment: [:])
        #expect(configuration.worker.authorisation.odsCodesByUser == ["epr-whittington": ["RKE"], "shift-batch": ["RKE", "RAL"]])
    }

    @Test("upstream spine: its own settings, required ones named; the SMSP's not needed")
    func spineUpstream() async throws {
        let missing = await #expect(throws: (any Error).self) {
            _ = try await WorkerConfiguration.load(file: nil, environment: ["CPIS_UPSTREAM": "spine"])
        }
        #expect("\(missing.map { "\($0)" } ?? "")".contains("spine.endpoint"))
        let configuration = try await WorkerConfiguration.load(file: nil, environment: [
            "CPIS_UPSTREAM": "spine", "CPIS_SPINE_ENDPOINT": "https://spine.example/sync-service", "CPIS_SPINE_ASID": "200000000123",
            "CPIS_SPINE_SPINE_ASID": "999999999999", "CPIS_SPINE_TLS_CA": "/etc/cpis/spine-ca.pem",
        ])
        let spine = try #require(configuration.spine)
        #expect(spine.identity.asid == "200000000123" && spine.identity.versionCode == "v3INF_DMSv5.7:FIN")
        #expect(!spine.retryAfterPossibleProcessing, "asking again about a query that may have reached CP-IS is off by default")
        #expect(spine.notFoundReasons == ["NHSNCC002"])
        #expect(configuration.worker.smspTimeout == .seconds(20))
        await #expect(throws: (any Error).self) {
            _ = try await WorkerConfiguration.load(file: nil, environment: ["CPIS_UPSTREAM": "carrier-pigeon"])
        }
    }
}
