import AMQPClient
import Foundation
import TestSupport
import Testing
@testable import Worker

/// `cpis dead list` and `cpis dead replay`, as the engineer on call uses them, against the real broker.
@Suite("cpis dead", .serialized, .timeLimit(.minutes(3)))
struct DeadCommandTests {
    /// A worker that knows only `epr-whittington` (for RKE): the rig's own user is refused, so its
    /// requests are parked.
    static func strictWorker(_ rig: WorkerRig) async throws -> LookupWorker {
        var strict = rig.configuration
        strict.worker.authorisation = Authorisation(odsCodesByUser: ["epr-whittington": ["RKE"]])
        try WorkerRig.relayRequests(&strict)
        return try await LookupWorker.start(strict, logger: WorkerRig.quietLogger)
    }

    /// Runs `cpis dead ...` with settings naming the rig's queues.
    static func dead(_ arguments: [String], rig: WorkerRig) throws -> (status: Int32, output: String) {
        let file = FileManager.default.temporaryDirectory.appending(path: "dead-\(UUID().uuidString).yaml")
        try "broker: { url: \"\(BrokerEnvironment.amqpURL)\" }\n\(rig.topology.settingsYAML)\nsmsp: { endpoint: http://unused.local/ }\n"
            .write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appending(path: "cpis")
        process.arguments = ["dead"] + arguments + ["--config", file.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test("list shows the parked requests with their reasons; replay --kind brings them back and they are answered")
    func listAndReplay() async throws {
        let rig = try await WorkerRig(startWorker: false)
        let first = try await Self.strictWorker(rig)
        // Three from a broker user the worker does not know, two that are not lookups at all.
        let refused = [try await rig.send(WorkerRig.body("9990000018")), try await rig.send(WorkerRig.body("9990000042")),
                       try await rig.send(WorkerRig.body("9434765919"))]
        let invalid = [try await rig.send("{\"nhsNumber\": 42}"), try await rig.send("not json")]
        let answers = try await rig.results(for: refused + invalid)
        #expect(answers.values.allSatisfy { $0["outcome"] as? String == "rejected" })
        await first.shutdown()

        let listed = try Self.dead(["list"], rig: rig)
        #expect(listed.status == 0, "\(listed.output)")
        #expect(listed.output.contains("\(rig.topology.dead): 5 parked"), "\(listed.output)")
        for id in refused + invalid { #expect(listed.output.contains(id)) }
        #expect(listed.output.contains("*** *** 0018") && !listed.output.contains("9990000018"), "NHS numbers masked")
        #expect(listed.output.components(separatedBy: "unauthorised").count - 1 == 3)
        #expect(listed.output.components(separatedBy: "invalid-request").count - 1 == 2)
        #expect(listed.output.contains("triage"))

        let onlyKind = try Self.dead(["list", "--kind", "unauthorised"], rig: rig)
        #expect(onlyKind.output.contains("5 parked, 3 of kind unauthorised"), "\(onlyKind.output)")
        #expect(!invalid.contains { onlyKind.output.contains($0) })

        // Their senders were answered `rejected`: not replayed unless asked, and it says so.
        let cautious = try Self.dead(["replay", "--kind", "unauthorised"], rig: rig)
        #expect(cautious.output.contains("0 replayed"), "\(cautious.output)")
        #expect(cautious.output.contains("3 skipped: their sender already had an answer"), "\(cautious.output)")

        // The cause fixed (every broker user allowed, as in local development), they are asked again.
        let fixed = try await LookupWorker.start(rig.configuration, logger: WorkerRig.quietLogger)
        let replayed = try Self.dead(["replay", "--kind", "unauthorised", "--include-answered"], rig: rig)
        #expect(replayed.output.contains("3 replayed"), "\(replayed.output)")
        func isReplay(_ delivery: AMQPDelivery) -> Bool {
            let id = WorkerRig.json(delivery)?["requestId"] as? String ?? ""
            return refused.contains { id.hasPrefix("\($0)/replay-") }
        }
        let replies = try await rig.replies.wait(for: "3 replayed results") { $0.filter(isReplay).count >= 3 }
            .filter(isReplay)
        let outcomes = replies.compactMap { WorkerRig.json($0)?["outcome"] as? String }
        #expect(outcomes.filter { $0 == "records-found" }.count == 2)
        #expect(outcomes.filter { $0 == "no-record" }.count == 1)
        #expect(Set(replies.compactMap(\.message.properties.correlationId)) == Set(refused),
                "the EPR matches the new results to its original requests")

        let left = try Self.dead(["list"], rig: rig)
        #expect(left.output.contains("2 parked"), "\(left.output)")
        await fixed.shutdown()
        await rig.stop()
    }

    @Test("an id as list prints it, its NHS number masked, is one that replay --id accepts; a masked id two requests share is refused")
    func listedIDsAreAcceptedByReplay() async throws {
        let rig = try await WorkerRig(startWorker: false)
        let first = try await Self.strictWorker(rig)
        // EPRs that put the NHS number in their message ids: list masks it. The twins' ids differ only
        // in NHS numbers that end alike, so they are listed alike.
        let tag = String(UUID().uuidString.prefix(8))
        let wanted = "ward7-9990000018-\(tag)"
        let twins = ["ed-9434790018-\(tag)", "ed-9434900018-\(tag)"]
        for id in [wanted] + twins {
            try await rig.send(WorkerRig.body(String(id.split(separator: "-")[1])), id: id)
        }
        _ = try await rig.results(for: [wanted] + twins)
        await first.shutdown()

        let listed = try Self.dead(["list"], rig: rig)
        #expect(!["9990000018", "9434790018", "9434900018"].contains { listed.output.contains($0) }, "masked: \(listed.output)")
        // The REQUEST column, as an engineer copies it from the table.
        let rows = listed.output.split(separator: "\n").filter { $0.contains(tag) }
        let shown = rows.compactMap { $0.components(separatedBy: "  ").first }
        #expect(shown.sorted() == ["ed-*** *** 0018-\(tag)", "ed-*** *** 0018-\(tag)", "ward7-*** *** 0018-\(tag)"], "\(listed.output)")

        let fixed = try await LookupWorker.start(rig.configuration, logger: WorkerRig.quietLogger)
        let replayed = try Self.dead(["replay", "--id", "ward7-*** *** 0018-\(tag)", "--include-answered"], rig: rig)
        #expect(replayed.output.contains("1 replayed") && !replayed.output.contains("not parked"), "\(replayed.output)")
        func isReplay(_ delivery: AMQPDelivery) -> Bool {
            (WorkerRig.json(delivery)?["requestId"] as? String)?.hasPrefix("\(wanted)/replay-") == true
        }
        let result = try #require(try await rig.replies.wait(for: "the replayed result") { $0.contains(where: isReplay) }
            .first(where: isReplay))
        #expect(WorkerRig.json(result)?["outcome"] as? String == "records-found")
        #expect(result.message.properties.correlationId == wanted)

        // One listed id for two requests: which one was meant cannot be known, so neither is replayed.
        let ambiguous = try Self.dead(["replay", "--id", "ed-*** *** 0018-\(tag)", "--include-answered"], rig: rig)
        #expect(ambiguous.output.contains("0 replayed") && ambiguous.output.contains("2 skipped: their id, as listed, stands for several"),
                "\(ambiguous.output)")
        #expect(try Self.dead(["list"], rig: rig).output.contains("2 parked"))
        await fixed.shutdown()
        await rig.stop()
    }

    @Test("replay needs a choice")
    func replayNeedsChoice() async throws {
        let rig = try await WorkerRig(startWorker: false)
        let result = try Self.dead(["replay"], rig: rig)
        #expect(result.status != 0)
        #expect(result.output.contains("choose what to replay"))
        await rig.stop()
    }
}
