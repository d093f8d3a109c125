import Foundation
@testable import Settings
import Testing

@Suite("Settings")
struct SettingsReaderTests {
    static let schema = SettingsSchema(
        keys: ["broker.url", "concurrency.maxInFlight", "concurrency.reservedForTriage", "monitoring.enabled", "smsp.senderODS"],
        openMaps: ["authorisation.users"], lists: ["topology.retryDelaysMs"], secrets: ["broker.password"],
        legacyEnvironment: ["CPIS_AMQP_URL": "broker.url", "CPIS_WORKER_MAX_IN_FLIGHT": "concurrency.maxInFlight"])

    private func file(_ yaml: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appending(path: "settings-\(UUID().uuidString).yaml")
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test("one naming rule for the environment: CPIS_ and the key in upper snake case")
    func namingRule() {
        #expect(Self.schema.environmentName(of: "concurrency.maxInFlight") == "CPIS_CONCURRENCY_MAX_IN_FLIGHT")
        #expect(Self.schema.environmentName(of: "smsp.senderODS") == "CPIS_SMSP_SENDER_ODS")
        #expect(Self.schema.environmentName(of: "broker.tls.ca") == "CPIS_BROKER_TLS_CA")
    }

    @Test("the environment overrides the file, the file the defaults; an empty value counts as unset")
    func precedence() async throws {
        let url = try file("concurrency: { maxInFlight: 16, reservedForTriage: 4 }\nbroker: { url: amqp://file/ }\n")
        defer { try? FileManager.default.removeItem(at: url) }
        let settings = try await SettingsReader.load(
            file: url, environment: ["CPIS_CONCURRENCY_MAX_IN_FLIGHT": "64", "CPIS_BROKER_URL": ""], schema: Self.schema)
        #expect(try settings.int("concurrency.maxInFlight", default: 32) == 64)
        #expect(try settings.int("concurrency.reservedForTriage", default: 8) == 4)
        #expect(settings.string("broker.url") == "amqp://file/")
        #expect(try settings.bool("monitoring.enabled", default: true))
    }

    @Test("documented older environment names still work; the rule's name wins over them")
    func legacyNames() async throws {
        let settings = try await SettingsReader.load(file: nil, environment: [
            "CPIS_AMQP_URL": "amqp://legacy/", "CPIS_WORKER_MAX_IN_FLIGHT": "8", "CPIS_CONCURRENCY_MAX_IN_FLIGHT": "9",
        ], schema: Self.schema)
        #expect(settings.string("broker.url") == "amqp://legacy/")
        #expect(try settings.int("concurrency.maxInFlight", default: 32) == 9)
    }

    @Test("an unknown key in the file is refused, naming the nearest known one", arguments: [
        ("authorization:\n  users: { epr: [RKE] }\n", "unknown setting 'authorization': did you mean 'authorisation'?"),
        ("concurrency:\n  maxInflight: 4\n", "unknown setting 'concurrency.maxInflight': did you mean 'concurrency.maxInFlight'?"),
        ("brokr: { url: amqp://x/ }\n", "unknown setting 'brokr': did you mean 'broker'?"),
    ])
    func unknownKey(yaml: String, message: String) async throws {
        let url = try file(yaml)
        defer { try? FileManager.default.removeItem(at: url) }
        let error = await #expect(throws: SettingsProblem.self) {
            _ = try await SettingsReader.load(file: url, environment: [:], schema: Self.schema)
        }
        #expect(error?.description.hasSuffix(message) == true, "\(error?.description ?? "")")
    }

    @Test("a value that does not convert is refused, not replaced by the default")
    func badValue() async throws {
        let settings = try await SettingsReader.load(file: nil, environment: ["CPIS_CONCURRENCY_MAX_IN_FLIGHT": "lots"],
                                                     schema: Self.schema)
        #expect(throws: SettingsProblem.self) { try settings.int("concurrency.maxInFlight", default: 32) }
    }

    @Test("lists from the file or the environment; open maps from the file")
    func listsAndMaps() async throws {
        let url = try file("topology: { retryDelaysMs: [100, 200] }\nauthorisation:\n  users:\n    epr-whittington: [RKE]\n    shift-batch: [RKE, RAL]\n")
        defer { try? FileManager.default.removeItem(at: url) }
        let fromFile = try await SettingsReader.load(file: url, environment: [:], schema: Self.schema)
        #expect(try fromFile.intArray("topology.retryDelaysMs") == [100, 200])
        #expect(try fromFile.stringLists("authorisation.users") == ["epr-whittington": ["RKE"], "shift-batch": ["RKE", "RAL"]])
        let fromEnvironment = try await SettingsReader.load(file: url, environment: ["CPIS_TOPOLOGY_RETRY_DELAYS_MS": "5,6,7"],
                                                            schema: Self.schema)
        #expect(try fromEnvironment.intArray("topology.retryDelaysMs") == [5, 6, 7])
    }

    @Test("secrets from a directory of files (systemd credentials, a mounted Secret), under the environment")
    func secretsDirectory() async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "secrets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "s3cret\n".write(to: directory.appending(path: "broker-password"), atomically: true, encoding: .utf8)
        let settings = try await SettingsReader.load(file: nil, environment: ["CREDENTIALS_DIRECTORY": directory.path],
                                                     schema: Self.schema)
        #expect(settings.secret("broker.password") == "s3cret")
    }

    @Test("a secret written in a settings file is refused, naming where it belongs")
    func secretInFile() async throws {
        let url = try file("broker: { password: hunter2 }\n")
        defer { try? FileManager.default.removeItem(at: url) }
        let error = await #expect(throws: SettingsProblem.self) {
            _ = try await SettingsReader.load(file: url, environment: [:], schema: Self.schema)
        }
        #expect(error?.description.contains("broker.password is a secret") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("hunter2") == false, "the secret is not repeated")
    }

    @Test("a value of the wrong shape is refused, not replaced by the default", arguments: [
        "concurrency: { maxInFlight: [8] }\n", "monitoring: { enabled: { really: false } }\n", "topology: { retryDelaysMs: { a: 1 } }\n",
    ])
    func wrongShape(yaml: String) async throws {
        let url = try file(yaml)
        defer { try? FileManager.default.removeItem(at: url) }
        await #expect(throws: SettingsProblem.self) {
            _ = try await SettingsReader.load(file: url, environment: [:], schema: Self.schema)
        }
    }

    @Test("secret files that are symbolic links, as in a mounted Kubernetes Secret, are read")
    func secretsThroughLinks() async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "secrets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appending(path: "..data"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "s3cret\n".write(to: directory.appending(path: "..data/broker-password"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: directory.appending(path: "broker-password").path,
                                                   withDestinationPath: "..data/broker-password")
        let settings = try await SettingsReader.load(file: nil, environment: ["CPIS_SECRETS_DIRECTORY": directory.path],
                                                     schema: Self.schema)
        #expect(settings.secret("broker.password") == "s3cret")
    }

    @Test("environment variables that set nothing are reported, with the nearest known name")
    func unknownEnvironment() async throws {
        let settings = try await SettingsReader.load(file: nil, environment: [
            "CPIS_CONCURRENCY_MAXINFLIGHT": "8", "CPIS_BROKER_PORT": "5692", "CPIS_SIMULATOR_LISTEN_PORT": "1", "HOME": "/root",
        ], schema: Self.schema)
        #expect(settings.unknownEnvironment.map(\.name) == ["CPIS_CONCURRENCY_MAXINFLIGHT"])
        #expect(settings.unknownEnvironment.first?.nearest == "CPIS_CONCURRENCY_MAX_IN_FLIGHT")
    }
}
