import AMQPClient
import Foundation
import SMSPSimulator
import TestSupport
import Testing
@testable import Worker

/// `cpis batch`, run as a batch job would run it, against the real broker and a worker.
@Suite("cpis batch", .serialized, .timeLimit(.minutes(5)))
struct BatchCommandTests {
    static let requester = """
        {"organisation":{"odsCode":"RKE","name":"The Whittington Hospital"},"system":{"asid":"200000000117",
         "nominatedPerson":{"jobRole":{"code":"R0260","displayName":"General Medical Practitioner"},
         "name":{"given":"Paula","family":"Palmer"}}}}
        """

    /// `count` valid NHS numbers that CP-IS has no record of, from `start`, and two test patients.
    static func patients(_ count: Int, from start: Int) -> [String] {
        var numbers: [String] = []
        var candidate = start
        while numbers.count < count - 2 {
            candidate += 1
            let digits = String(candidate).compactMap(\.wholeNumberValue)
            let check = 11 - zip(digits, (2...10).reversed()).reduce(0) { $0 + $1.0 * $1.1 } % 11
            if check != 10 { numbers.append(String(candidate) + String(check == 11 ? 0 : check)) }
        }
        return numbers + ["9990000018", "9990000042"]
    }

    struct Job {
        let directory = FileManager.default.temporaryDirectory.appending(path: "batch-\(UUID().uuidString)")
        var csv: URL { directory.appending(path: "patients.csv") }
        var results: URL { directory.appending(path: "patients.results.csv") }

        init(rows: [String]) throws {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try ("nhs_number\n" + rows.joined(separator: "\n") + "\n").write(to: csv, atomically: true, encoding: .utf8)
            try BatchCommandTests.requester.write(to: directory.appending(path: "requester.json"), atomically: true, encoding: .utf8)
        }

        func process(queue: String, _ options: [String] = []) -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appending(path: "cpis")
            process.arguments = ["batch", csv.path, "--requester", directory.appending(path: "requester.json").path,
                                 "--results", results.path, "--queue", queue, "--amqp-url", BrokerEnvironment.amqpURL] + options
            process.standardOutput = Pipe()
            process.standardError = Pipe()
            return process
        }

        /// Runs to the end: exit status, standard output, standard error.
        func run(queue: String, _ options: [String] = []) throws -> (Int32, String, String) {
            let process = process(queue: queue, options)
            try process.run()
            let output = (process.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
            let error = (process.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
        }

        /// The results file's rows: line number → outcome.
        func outcomes() throws -> [Int: String] {
            var outcomes: [Int: String] = [:]
            for row in try String(contentsOf: results, encoding: .utf8).split(separator: "\n").dropFirst() {
                let cells = row.split(separator: ",", omittingEmptySubsequences: false)
                #expect(outcomes.updateValue(String(cells[3]), forKey: Int(cells[0])!) == nil, "line \(cells[0]) written twice")
            }
            return outcomes
        }
    }

    @Test("2,000 rows: a results file with 2,000 answers, the summary, progress, exit 0; every row asked once")
    func wholeBatch() async throws {
        let rig = try await WorkerRig(maximumInFlight: 16, reservedForTriage: 2)
        let job = try Job(rows: Self.patients(2000, from: 900_000_000))
        let asked = rig.simulator.requestCount
        let (status, output, error) = try job.run(queue: rig.topology.batch)
        #expect(status == 0, "\(error)")
        let outcomes = try job.outcomes()
        #expect(outcomes.count == 2000)
        #expect(outcomes.values.filter { $0 == "records-found" }.count == 2)
        #expect(outcomes.values.filter { $0 == "no-record" }.count == 1998)
        #expect(rig.simulator.requestCount - asked == 2000)
        #expect(output.contains("2000 rows, 2000 answered"), "\(output)")
        #expect(error.contains("batch: 2000/2000 answered"), "progress lines when not on a terminal: \(error)")
        #expect(!FileManager.default.fileExists(atPath: job.results.path + ".journal"), "the journal goes once all is answered")
        let permissions = try FileManager.default.attributesOfItem(atPath: job.results.path)[.posixPermissions] as? Int
        #expect(permissions == 0o600, "results hold patient data: readable by their owner only")

        // A second run on the finished results file is refused, as a problem with that file; nothing is sent again.
        let again = try job.run(queue: rig.topology.batch)
        #expect(again.0 == 2 && again.2.contains("results file problem: \(job.results.path) already holds the results of a finished batch"),
                "\(again.2)")
        #expect(rig.simulator.requestCount - asked == 2000)
        await rig.stop()
    }

    @Test("a file with bad rows is refused with their line numbers, and nothing is sent")
    func badRows() async throws {
        let rig = try await WorkerRig()
        let job = try Job(rows: ["9434765919", "9434765918", "12345", "943 476 5919", "9990000018,ed-night"])
        let asked = rig.simulator.requestCount
        let (status, _, error) = try job.run(queue: rig.topology.batch)
        #expect(status == 1)
        for expected in ["line 3: not an NHS number", "line 4: not an NHS number", "line 5: *** *** 5919 repeats line 2",
                         "line 6: unknown requester 'ed-night'"] {
            #expect(error.contains(expected), "\(error)")
        }
        #expect(!error.contains("9434765919"), "NHS numbers are masked in what it prints")
        #expect(rig.simulator.requestCount == asked)
        await rig.stop()
    }

    @Test("an interrupted run, resumed, sends only what was missing: every row answered once, asked once")
    func interruptedAndResumed() async throws {
        let rig = try await WorkerRig(maximumInFlight: 8, reservedForTriage: 2)
        rig.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.milliseconds(10)))
        let job = try Job(rows: Self.patients(1000, from: 910_000_000))
        let asked = rig.simulator.requestCount
        let first = job.process(queue: rig.topology.batch)
        try first.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while (try? job.outcomes().count) ?? 0 < 200, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let answeredBefore = try job.outcomes().count
        #expect(answeredBefore >= 200 && answeredBefore < 1000, "killed mid-batch, after \(answeredBefore)")

        let (status, output, error) = try job.run(queue: rig.topology.batch)
        #expect(status == 0, "\(error)")
        #expect(output.contains("\(answeredBefore) answered in patients.results.csv"), "\(output)")
        #expect(try job.outcomes().count == 1000)
        #expect(rig.simulator.requestCount - asked == 1000, "no row asked of CP-IS twice")
        print("[figures] batch killed after \(answeredBefore) of 1000 answered; the re-run collected the rest, 1000 asked once each")
        await rig.stop()
    }

    @Test("a spreadsheet's file (CRLF line ends, a byte-order mark) reads like any other; a changed file cannot resume another's batch")
    func spreadsheetFileAndChangedFile() async throws {
        let rig = try await WorkerRig()
        var job = try Job(rows: [])
        try Data([0xEF, 0xBB, 0xBF] + Array("nhs_number\r\n9990000018\r\n9434765919\r\n".utf8)).write(to: job.csv)
        let (status, output, error) = try job.run(queue: rig.topology.batch)
        #expect(status == 0, "\(error)")
        #expect(output.contains("2 rows, 2 answered"), "\(output)")

        // Interrupted state left behind (a journal), then the file changed: refused, not resumed.
        job = try Job(rows: ["9990000018"])
        try "batch 0123456789abcdef 1234\n".write(to: URL(fileURLWithPath: job.results.path + ".journal"), atomically: true, encoding: .utf8)
        try "\(BatchResultsHeader.csv)\n".write(to: job.results, atomically: true, encoding: .utf8)
        let changed = try job.run(queue: rig.topology.batch)
        #expect(changed.0 == 2, "a problem with the results file, not a usage error (64): \(changed.2)")
        #expect(changed.2.contains("results file problem: \(job.results.path) holds the results of another batch file")
            && changed.2.contains("give this batch its own --results file"), "\(changed.2)")
        #expect(!changed.2.contains("Usage:"), "\(changed.2)")
        await rig.stop()
    }

    @Test("with no worker answering, it names the rows it waits for by line, and at the end those and --resend-unanswered; a plain re-run collects them")
    func waitingNamesRows() async throws {
        let rig = try await WorkerRig(startWorker: false)
        try await rig.topology.declare(on: rig.epr)
        let job = try Job(rows: ["9990000018", "9434765919", "9990000042"])
        let asked = rig.simulator.requestCount
        let (status, output, error) = try job.run(queue: rig.topology.batch, ["--idle-timeout", "5"])
        #expect(status == 3, "\(error)")
        #expect(error.contains("waiting for 3 rows: lines 2-4 (no result for 3s"), "\(error)")
        #expect(output.contains("NOT answered yet: 3 rows: lines 2-4; run again later") && output.contains("--resend-unanswered"),
                "\(output)")
        #expect(!["9990000018", "9434765919", "9990000042"].contains { output.contains($0) || error.contains($0) },
                "NHS numbers never printed unmasked")

        // The requests were confirmed: they wait in the queue, and the re-run collects their answers.
        try await rig.start()
        let again = try job.run(queue: rig.topology.batch)
        #expect(again.0 == 0, "\(again.2)")
        #expect(again.1.contains("3 sent and awaited, 0 to send") && again.1.contains("3 rows, 3 answered"), "\(again.1)")
        #expect(rig.simulator.requestCount - asked == 3)
        await rig.stop()
    }

    /// A row and its result meet by message id; a result under a row's id about another child (a
    /// publisher reusing the batch's ids, say) must never be written as that row's answer.
    @Test("a result under a row's id but about another child is not written as its answer (SAFETY), and the row gets its own")
    func resultAboutAnotherChildIsNotWritten() async throws {
        let rig = try await WorkerRig(startWorker: false)
        try await rig.topology.declare(on: rig.epr)
        let job = try Job(rows: ["9990000018", "9434765919"])
        let process = job.process(queue: rig.topology.batch, ["--idle-timeout", "30"])
        try process.run()
        // The batch's id, from its journal's first line ("batch <id> <fingerprint>"), once written.
        let journal = job.results.path + ".journal"
        var batchID: String?
        for _ in 0..<100 where batchID == nil {
            try await Task.sleep(for: .milliseconds(100))
            batchID = (try? String(contentsOfFile: journal, encoding: .utf8))?.split(separator: " ").dropFirst().first.map(String.init)
        }
        let id = try #require(batchID)
        // Another child's records-found result, under line 2's request id (line 2 asks about 9990000018).
        var forged = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: WorkerRig.packageRoot.appending(path: "docs/examples/result-records-found.json"))) as? [String: Any])
        forged["requestId"] = "\(id)-2"
        forged["nhsNumber"] = "9434765919"
        try await rig.epr.publish(AMQPMessage(body: Array(try JSONSerialization.data(withJSONObject: forged)),
                                              properties: AMQPProperties(contentType: "application/json")),
                                  routingKey: "cpis.batch.\(id)")
        try await Task.sleep(for: .seconds(1))
        try await rig.start()
        let output = (process.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
        let error = String(decoding: (process.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(error)")
        #expect(error.contains("SAFETY HAZ-01: the result for line 2 is about another NHS number (*** *** 5919)"), "\(error)")
        #expect(String(decoding: output, as: UTF8.self).contains("1 results about another child than their row's were NOT written"))
        // Line 2's row holds its own child's answer.
        let rows = try String(contentsOf: job.results, encoding: .utf8).split(separator: "\n").dropFirst()
        let line2 = try #require(rows.first { $0.hasPrefix("2,") })
        #expect(line2.contains(",9990000018,"), "\(line2)")
        #expect(try job.outcomes().count == 2)
        await rig.stop()
    }

    @Test("a row published again (journalled, its confirm never recorded) to a worker that forgot it: asked again, marked possibleRepeat, written once")
    func republishedRowIsMarkedPossibleRepeat() async throws {
        let rig = try await WorkerRig(startWorker: false)
        try await rig.topology.declare(on: rig.epr)
        let audit = try await rig.accessNotifications()
        let job = try Job(rows: ["9990000018", "9434765919"])
        let asked = rig.simulator.requestCount
        #expect(try job.run(queue: rig.topology.batch, ["--idle-timeout", "1"]).0 == 3)
        // As if killed between the publish and its confirm: the confirms are not in the journal.
        let journalURL = URL(fileURLWithPath: job.results.path + ".journal")
        let records = try String(contentsOf: journalURL, encoding: .utf8).split(separator: "\n")
        #expect(records.filter { $0.hasSuffix(" confirmed") }.count == 2)
        try (records.filter { !$0.hasSuffix(" confirmed") }.joined(separator: "\n") + "\n")
            .write(to: journalURL, atomically: true, encoding: .utf8)
        // A worker answers the first copies, and is replaced by one that never saw them.
        try await rig.start()
        _ = try await audit.wait(for: "2 access notifications") { $0.count >= 2 }
        await rig.worker?.shutdown()
        try await rig.start()

        let (status, output, error) = try job.run(queue: rig.topology.batch)
        #expect(status == 0, "\(error)")
        #expect(output.contains("0 sent and awaited, 2 to send (2 of them published before, again under the same message ids)"),
                "\(output)")
        #expect(output.contains("2 rows, 2 answered"), "\(output)")
        #expect(try job.outcomes() == [2: "records-found", 3: "no-record"])
        // Publishing is at-least-once: a notification can arrive twice under its message_id (seen once in
        // CI under load, with 4 queries made), so they are counted as a consumer counts them, by message_id.
        var seen = Set<String>()
        let notifications = try await audit.wait(for: "4 access notifications") { deliveries in
            Set(deliveries.compactMap(\.message.properties.messageId)).count >= 4
        }.filter { seen.insert($0.message.properties.messageId ?? "").inserted }.compactMap(WorkerRig.json)
        #expect(rig.simulator.requestCount - asked == 4)
        #expect(notifications.map { $0["possibleRepeat"] as? Bool } == [false, false, true, true], "the repeats are marked")
        await rig.stop()
    }

    @Test("killed (SIGKILL) every few milliseconds while it publishes, re-run plainly each time: every row answered, each child asked once")
    func killedWhilePublishingLosesNoRow() async throws {
        let rig = try await WorkerRig(maximumInFlight: 8, reservedForTriage: 2)
        let audit = try await rig.accessNotifications()
        let count = 600
        let job = try Job(rows: Self.patients(count, from: 920_000_000))
        let journalURL = URL(fileURLWithPath: job.results.path + ".journal")
        let asked = rig.simulator.requestCount
        // Its records, the rows journalled, and of those the ones the broker has not confirmed.
        func journal() -> (records: Int, rows: Int, unconfirmed: Int) {
            let records = ((try? String(contentsOf: journalURL, encoding: .utf8)) ?? "").split(separator: "\n").dropFirst()
            let confirmed = Set(records.filter { $0.hasSuffix(" confirmed") }.map { $0.dropLast(" confirmed".count) })
            let journalled = Set(records.filter { !$0.hasSuffix(" confirmed") })
            return (records.count, journalled.count, journalled.subtracting(confirmed).count)
        }
        let options = ["--idle-timeout", "20"]
        var kills = 0
        var atKills: [String] = []
        var unconfirmedAtKills = 0
        var finished: Int32?
        while kills < 20 {
            let process = job.process(queue: rig.topology.batch, options)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            let before = journal().records
            try process.run()
            // Once it journals a window of rows, it publishes them: killed a few milliseconds in.
            while process.isRunning, journal().records == before { try await Task.sleep(for: .milliseconds(1)) }
            if process.isRunning { try await Task.sleep(for: .milliseconds(Int.random(in: 1...15))) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            guard process.terminationReason == .uncaughtSignal else {
                // It finished before the kill: a plain re-run got every row answered.
                finished = process.terminationStatus
                break
            }
            kills += 1
            let state = journal()
            atKills.append("\(state.unconfirmed)/\(state.rows)")
            unconfirmedAtKills += state.unconfirmed
        }
        #expect(kills >= 3, "killed while publishing \(kills) times")
        #expect(unconfirmedAtKills > 0, "some kills fell between a row's journal and its confirm: \(atKills)")

        if let finished {
            #expect(finished == 0)
        } else {
            let (status, output, error) = try job.run(queue: rig.topology.batch, options)
            #expect(status == 0, "\(output)\n\(error)")
            #expect(output.contains("\(count) rows, \(count) answered"), "\(output)")
        }
        #expect(!FileManager.default.fileExists(atPath: journalURL.path), "finished: the journal is gone")
        let outcomes = try job.outcomes()
        #expect(outcomes.count == count)
        #expect(outcomes.values.filter { $0 == "no-record" }.count == count - 2)
        #expect(outcomes.values.filter { $0 == "records-found" }.count == 2)

        // Each CP-IS query has its access notification: one per child, and a repeat only where marked.
        let notifications = try await audit.wait(for: "\(count) access notifications", timeout: .seconds(30)) { deliveries in
            Set(deliveries.compactMap { WorkerRig.json($0)?["nhsNumber"] as? String }).count >= count
        }.compactMap(WorkerRig.json)
        let byChild = Dictionary(grouping: notifications) { $0["nhsNumber"] as? String ?? "" }
        let repeats = byChild.values.map { $0.count - 1 }.reduce(0, +)
        #expect(byChild.count == count)
        #expect(repeats <= kills, "one repeat at most per killed run: \(repeats) in \(kills) kills")
        for (_, queries) in byChild where queries.count > 1 {
            #expect(queries.filter { $0["possibleRepeat"] as? Bool == true }.count >= queries.count - 1, "a repeat query is marked")
        }
        #expect(rig.simulator.requestCount - asked == count + repeats)
        print("[figures] \(count) rows, \(kills) SIGKILLs while publishing; at each, rows unconfirmed/journalled: "
            + "\(atKills.joined(separator: " ")); a plain re-run answered every row; \(repeats) repeat queries")
        await rig.stop()
    }
}

/// The results file's header, as `cpis batch` writes it.
enum BatchResultsHeader {
    static let csv = "line,request_id,nhs_number,outcome,response_code,records,local_authorities,error_kind,error"
}
