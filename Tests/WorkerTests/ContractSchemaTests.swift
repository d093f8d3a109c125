import AMQPClient
import TestSupport
import Foundation
import Testing
@testable import Worker

/// Everything the worker publishes validates against the contract's JSON Schemas (Config/contract),
/// checked by the reference implementation of JSON Schema (Python's jsonschema, draft 2020-12).
@Suite("the contract's JSON Schemas", .serialized, .timeLimit(.minutes(2)))
struct ContractSchemaTests {
    static let schemas = WorkerRig.packageRoot.appending(path: "Config/contract")

    /// The problems `jsonschema` finds in each instance (empty when all are valid).
    static func problems(_ instances: [Data], schema: String) throws -> [String] {
        try problems(instances, schemaFile: schemas.appending(path: "\(schema).schema.json"))
    }

    /// The problems `jsonschema` finds in each instance against the schema in `schemaFile`, by the
    /// draft its `$schema` names (2020-12 when it names none).
    static func problems(_ instances: [Data], schemaFile: URL) throws -> [String] {
        let script = """
            import json, sys
            from jsonschema import Draft202012Validator
            from jsonschema.validators import validator_for
            schema = json.load(open(sys.argv[1]))
            validator = validator_for(schema, default=Draft202012Validator)(schema)
            for index, instance in enumerate(json.load(sys.stdin)):
                for error in validator.iter_errors(instance):
                    print(f"instance {index}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
            """
        let array = "[" + instances.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",") + "]"
        let (status, printed) = try Python.run(["-c", script, schemaFile.path], input: Data(array.utf8))
        guard status == 0 else {
            throw ToolFailure(description: "python3 jsonschema failed (\(status)): is it installed?")
        }
        return printed.split(separator: "\n").map(String.init)
    }

    /// The same, against a schema given as JSON (e.g. one of the AsyncAPI document's).
    static func problems(_ instances: [Data], schemaJSON: Data) throws -> [String] {
        let file = FileManager.default.temporaryDirectory.appending(path: "schema-\(UUID().uuidString).json")
        try schemaJSON.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try problems(instances, schemaFile: file)
    }

    @Test("results and notifications of every kind validate; the validator does catch a bad one")
    func publishedMessagesValidate() async throws {
        let rig = try await WorkerRig(maximumAttempts: 2)
        let audit = try await rig.accessNotifications()
        var ids: [String] = []
        for number in ["9990000042", "9990000034", "9990000026", "9434765919", "3333333333", "1111111111", "6666666666"] {
            ids.append(try await rig.send(WorkerRig.body(number)))
        }
        ids.append(try await rig.send("{}"))
        let past = Int64((Date().timeIntervalSince1970 - 5) * 1000)
        try await rig.epr.publish(AMQPMessage(WorkerRig.body("9990000018"), properties: AMQPProperties(
            contentType: "application/json", headers: [LookupIntake.deadlineHeader: .int(past)], replyTo: rig.replyQueue,
            messageId: "late")), routingKey: rig.topology.triage)
        ids.append("late")

        let results = try await rig.results(for: ids)
        #expect(Set(results.values.compactMap { $0["outcome"] as? String })
                == ["records-found", "no-record", "failed", "rejected", "expired"])
        let resultBodies = rig.replies.all.map { Data($0.message.body) }
        #expect(try Self.problems(resultBodies, schema: "lookup-result") == [])

        let notifications = try await audit.wait(count: 5).map { Data($0.message.body) }
        #expect(try Self.problems(notifications, schema: "access-notification") == [])

        // The requests EPRs send (the contract's example and ours) validate too.
        #expect(try Self.problems([Data(WorkerRig.body("943 476 5919").utf8)], schema: "lookup-request") == [])

        // And a result that breaks the contract is caught.
        var broken = try #require(try JSONSerialization.jsonObject(with: resultBodies[0]) as? [String: Any])
        broken["outcome"] = "maybe"
        broken.removeValue(forKey: "completedAt")
        let problems = try Self.problems([try JSONSerialization.data(withJSONObject: broken)], schema: "lookup-result")
        #expect(problems.count >= 2, "\(problems)")
        await rig.stop()
    }
}

/// A tool the tests run did not work.
struct ToolFailure: Error, CustomStringConvertible {
    let description: String
}

/// `python3`, the first on the PATH, as the tests use it: JSON Schema validation (Python's jsonschema,
/// the reference implementation) and the EPR client example.
enum Python {
    /// Runs `python3 arguments...` with `input` on its standard input; returns its exit status and what
    /// it printed on standard output (and on standard error, when `mergingErrors`; else that goes to
    /// the test's own).
    static func run(_ arguments: [String], input: Data? = nil, mergingErrors: Bool = false) throws
        -> (status: Int32, output: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.currentDirectoryURL = WorkerRig.packageRoot
        let standardInput = Pipe(), output = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : standardInput
        process.standardOutput = output
        if mergingErrors { process.standardError = output }
        try process.run()
        if let input {
            standardInput.fileHandleForWriting.write(input)
            try standardInput.fileHandleForWriting.close()
        }
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, printed)
    }
}
