import Foundation
import Testing

/// Mistakes in a service unit or a settings file, as an operator meets them: refused at start, with
/// a message that names what to fix, before anything connects.
@Suite("cpis settings at start")
struct SettingsCommandTests {
    private func settingsFile(_ yaml: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appending(path: "cpis-settings-\(UUID().uuidString).yaml")
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test("a settings file named with --config that does not exist is an error, not a start on defaults")
    func missingFile() throws {
        let result = try CPISProcess.run(["worker", "--config", "/etc/cpis/wrokr.yaml"])
        #expect(result.status != 0)
        #expect(result.error.contains("no settings file at /etc/cpis/wrokr.yaml"))
    }

    @Test("a misspelt key is refused, naming the key and the nearest known one")
    func misspeltKey() throws {
        let file = try settingsFile("authorization:\n  users:\n    epr-whittington: [RKE]\n")
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try CPISProcess.run(["worker", "--config", file.path])
        #expect(result.status != 0)
        #expect(result.error.contains("unknown setting 'authorization': did you mean 'authorisation'?"), "\(result.error)")
    }

    @Test("a value that is not a number is refused, naming the key and its environment variable")
    func badNumber() throws {
        let file = try settingsFile("smsp: { endpoint: http://smsp.local/cpis }\nconcurrency: { maxInFlight: lots }\n")
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try CPISProcess.run(["worker", "--config", file.path])
        #expect(result.status != 0)
        #expect(result.error.contains("concurrency.maxInFlight (CPIS_CONCURRENCY_MAX_IN_FLIGHT"), "\(result.error)")
    }

    @Test("the shipped Config/worker.yaml is read without complaint")
    func shippedFile() throws {
        let result = try CPISProcess.run(["topology", "--config", Self.root.appending(path: "Config/worker.yaml").path])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("cpis.lookup.triage"))
    }

    @Test("cpis lookup checks the NHS number before it connects")
    func lookupChecksFirst() throws {
        // Nothing listens on port 1: had it connected first, the error would be about the broker.
        let result = try CPISProcess.run(["lookup", "--nhs-number", "943 476 5918", "--amqp-url", "amqp://guest@127.0.0.1:1/"])
        #expect(result.status != 0)
        #expect(result.error.contains("check digit"), "\(result.error)")
    }

    @Test("authorisation from the environment is refused, not ignored (ignored, it would allow every request)")
    func authorisationFromEnvironment() throws {
        let result = try CPISProcess.run(["worker", "--config", Self.root.appending(path: "Config/worker.yaml").path],
                                         environment: ["CPIS_AUTHORISATION_USERS": "epr:RKE", "PATH": "/usr/bin:/bin"])
        #expect(result.status != 0)
        #expect(result.error.contains("authorisation.users is read from the settings file only"), "\(result.error)")
    }

    @Test("a worker whose broker is off this machine, with no authorisation map, stops at once saying what to set")
    func workerOffLoopbackWithoutAuthorisationRefusesToStart() throws {
        let result = try CPISProcess.run(["worker"], environment: [
            "CPIS_BROKER_URL": "amqp://guest@broker.example:5672/", "CPIS_SMSP_ENDPOINT": "http://smsp.local/cpis",
            "PATH": "/usr/bin:/bin"])
        #expect(result.status != 0)
        #expect(result.error.contains("authorisation.users") && result.error.contains("is needed with the broker on broker.example"),
                "\(result.error)")
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
}
