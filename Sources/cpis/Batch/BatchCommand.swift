import AMQPClient
import ArgumentParser
import CPISDomain
import Foundation
import Logging
import Worker

/// `cpis batch patients.csv`: a shift's expected patients looked up on the batch lane, each result
/// written to a results file as it arrives. Safe to interrupt and run again: it resumes.
struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Look up a shift's patients from a CSV file on the batch lane, writing each result as it arrives.",
        discussion: """
            Every row is checked before anything is sent, and bad rows are reported by line. Each row is journalled \
            beside the results file, published with a broker confirm, and journalled again once confirmed; results \
            come back on a durable queue of the batch's own (cpis.batch.<batch id>), so none is lost if this stops. \
            Run it again with the same file and results file to resume: it waits for the rows the broker confirmed, \
            and publishes again, under their same message ids, the rows journalled but never confirmed (a worker that \
            has one already answers it once; should CP-IS be asked twice, the access notification says \
            possibleRepeat). When no result has come for a few seconds, it names the rows it waits for by line. \
            Exit status: 0 when every row has its answer (whatever the outcome), 1 for bad rows, 2 when the results \
            file cannot be used (it holds another batch's or a finished batch's results, or cannot be written: the \
            message names the file and what to do), 3 when some rows are still unanswered after --idle-timeout \
            seconds without a result (they are named; run again later; --resend-unanswered sends them again), 64 \
            for wrong options, and another non-zero status for other failures (the broker unreachable).
            """
    )

    @Argument(help: "CSV file: an NHS number per row, optionally a requester name in a second column.")
    var file: String

    @Option(help: "JSON file holding the requester (the contract's requester object) for rows that name none.")
    var requester: String?

    @Option(help: "JSON file mapping requester names to requester objects, for the CSV's second column.")
    var requesters: String?

    @Option(help: "Results file: .csv, or .jsonl for the full results (default: next to the CSV, .results.csv).")
    var results: String?

    @Option(help: "The batch lane's queue.")
    var queue = "cpis.lookup.batch"

    @Option(help: "Stop waiting after this many seconds without a result.")
    var idleTimeout = 300

    @Flag(help: "Check every row and stop: nothing is sent.")
    var dryRun = false

    @Flag(help: """
        Send again the rows an earlier run sent, and the broker confirmed, that never got a result (a plain run sends \
        again only those never confirmed). CP-IS may have been asked about them already: use it when the requests \
        are known to be lost (their queue deleted, say).
        """)
    var resendUnanswered = false

    @OptionGroup var broker: BrokerOptions

    /// The exit status for a results file this batch cannot use.
    static let resultsFileStatus: Int32 = 2

    func run() async throws {
        let batch = try readBatch()
        if dryRun {
            print("\(batch.rows.count) rows, all valid; nothing sent (--dry-run)")
            return
        }
        let resultsURL = URL(fileURLWithPath: results ?? URL(fileURLWithPath: file).deletingPathExtension().path + ".results.csv")
        let store: BatchResults
        do {
            store = try BatchResults(url: resultsURL, fingerprint: batch.fingerprint)
        } catch let refusal as BatchResults.Refusal {
            throw Self.resultsFileProblem(refusal.description)
        }
        let lines = Set(batch.rows.map(\.line))
        let alreadyAnswered = store.answered.intersection(lines).count
        // A row journalled but not confirmed may never have reached the broker: it is sent again.
        let toSend = batch.rows.filter { row in
            !store.answered.contains(row.line) && (resendUnanswered || !store.confirmed.contains(row.line))
        }
        let sentBefore = Set(toSend.map(\.line)).intersection(store.journalled)
        if alreadyAnswered > 0 || !store.journalled.isEmpty {
            print("resuming batch \(store.batchID): \(alreadyAnswered) answered in \(resultsURL.lastPathComponent), "
                + "\(batch.rows.count - alreadyAnswered - toSend.count) sent and awaited, \(toSend.count) to send"
                + (sentBefore.isEmpty ? "" : " (\(sentBefore.count) of them published before, again under the same message ids)"))
        }
        let run = BatchRun(store: store, progress: BatchProgress(total: batch.rows.count, alreadyAnswered: alreadyAnswered),
                           nhsNumbers: Dictionary(uniqueKeysWithValues: batch.rows.map { ($0.line, $0.nhsNumber.digits) }))

        try bootstrapLoggingFromEnvironment(defaultLevel: .warning)
        let configuration = try await broker.configuration(connectionName: "cpis batch \(store.batchID)")
        let connection = try await AMQPConnection.connect(configuration, logger: Logger(label: "cpis.batch"))
        let replies = "cpis.batch.\(store.batchID)"
        try await connection.declare(AMQPQueue.quorum(replies))
        let arrivals = AsyncStream<AMQPDelivery>.makeStream()
        try await connection.consume(AMQPConsumer(queue: replies, tag: "results", prefetch: 200)) {
            arrivals.continuation.yield($0)
        }
        let receiving = Task {
            for await delivery in arrivals.stream {
                // Acknowledged only once written: a result that cannot be written stays in the queue.
                guard await run.received(delivery) else { break }
                try? await connection.ack(delivery)
            }
        }

        do {
            try await publish(toSend, sentBefore: sentBefore, replyQueue: replies, username: configuration.username,
                              on: connection, run: run)
        } catch {
            let message = "publishing stopped: \(error); the rows not confirmed by the broker are sent again by the next run\n"
            FileHandle.standardError.write(Data(message.utf8))
        }
        let complete = await run.waitForAll(idleTimeout: .seconds(idleTimeout))
        receiving.cancel()
        arrivals.continuation.finish()
        if complete { try? await connection.deleteQueue(replies) }
        await connection.close()
        let summary = try await run.finish(complete: complete)
        print(summary)
        if let failure = await run.writeFailure {
            throw Self.resultsFileProblem("cannot write \(resultsURL.path): \(failure); the result stays queued, "
                + "so free the space (or fix its permissions) and run again to collect it")
        }
        if !complete { throw ExitCode(3) }
    }

    /// A problem with the results file is said as one (not as a usage error), with its own exit status.
    private static func resultsFileProblem(_ text: String) -> ExitCode {
        FileHandle.standardError.write(Data("cpis batch: results file problem: \(text)\n".utf8))
        return ExitCode(resultsFileStatus)
    }

    private func readBatch() throws -> BatchFile {
        var named: [String: String] = [:]
        if let requesters {
            let data = try Data(contentsOf: URL(fileURLWithPath: requesters))
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ValidationError("\(requesters) must hold a JSON object of requester names to requester objects")
            }
            for (name, value) in object {
                named[name] = String(decoding: try JSONSerialization.data(withJSONObject: value), as: UTF8.self)
            }
        }
        if let requester {
            named["default"] = String(decoding: try Data(contentsOf: URL(fileURLWithPath: requester)), as: UTF8.self)
        }
        do {
            return try BatchFile(contents: try Data(contentsOf: URL(fileURLWithPath: file)), requesters: named)
        } catch let errors as BatchFileErrors {
            FileHandle.standardError.write(Data("\(file): \(errors)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// Journals a window of rows, publishes them with confirms, and journals each confirm. A row an
    /// earlier run published (`sentBefore`) may have reached CP-IS already: it carries the
    /// possible-repeat header, so that a second query about it is marked `possibleRepeat`.
    private func publish(_ rows: [BatchFile.Row], sentBefore: Set<Int>, replyQueue: String, username: String,
                         on connection: AMQPConnection, run: BatchRun) async throws {
        let window = 100
        for start in stride(from: 0, to: rows.count, by: window) {
            let chunk = rows[start..<min(rows.count, start + window)]
            let ids = try await run.journal(lines: chunk.map(\.line))
            try await withThrowingTaskGroup(of: Int.self) { group in
                for (row, id) in zip(chunk, ids) {
                    let headers: AMQPTable = sentBefore.contains(row.line) ? [LookupIntake.possibleRepeatHeader: .bool(true)] : [:]
                    group.addTask {
                        try await connection.publish(AMQPMessage(body: row.body, properties: AMQPProperties(
                            contentType: "application/json", headers: headers, persistent: true, correlationId: id,
                            replyTo: replyQueue, messageId: id, timestamp: Date(), userId: username)),
                            routingKey: queue, mandatory: true)
                        return row.line
                    }
                }
                for try await line in group { try await run.confirmed(line: line) }
            }
        }
    }
}

/// The state of one run: what has been sent and answered, and the progress display.
private actor BatchRun {
    private let store: BatchResults
    private var progress: BatchProgress
    /// Each row's NHS number, by line: a result is written as a row's answer only if it is about it.
    private let nhsNumbers: [Int: String]
    private var lastResult = ContinuousClock.now
    /// Results that were not this batch's (the queue is the batch's own: they should not exist).
    private var foreign = 0
    /// Results about another child than their row's (none should exist: each row's message id is its
    /// own, and the worker checks every answer): not written, and said as a safety event.
    private var crossed = 0
    /// Results for rows already answered (publishing is at-least-once; a worker killed between the
    /// broker's confirm and its acknowledgement answers again).
    private var repeated = 0
    private(set) var writeFailure: (any Error)?

    init(store: BatchResults, progress: BatchProgress, nhsNumbers: [Int: String]) {
        self.store = store
        self.progress = progress
        self.nhsNumbers = nhsNumbers
    }

    /// Journals rows before they are sent; returns their request ids.
    func journal(lines: [Int]) throws -> [String] {
        try store.journal(lines: lines)
        return lines.map(store.requestID)
    }

    func confirmed(line: Int) throws {
        try store.confirm(line: line)
    }

    /// Writes a result; false when it could not be written (the run stops, the result stays queued).
    func received(_ delivery: AMQPDelivery) -> Bool {
        guard let result = try? JSONSerialization.jsonObject(with: Data(delivery.message.body)) as? [String: Any],
              let line = (result["requestId"] as? String).flatMap(store.line(ofRequestID:)), let asked = nhsNumbers[line]
        else {
            foreign += 1
            return true
        }
        lastResult = .now
        // A row and its result meet by message id alone, and a re-run publishes rows again under theirs:
        // the result must also be about the row's child, or it is not that row's answer.
        if let number = result["nhsNumber"] as? String, NHSNumber.digits(of: number) != asked {
            crossed += 1
            progress.note("SAFETY HAZ-01: the result for line \(line) is about another NHS number "
                + "(\(NHSNumber.masked(digits: number))): not written; the row waits for its own; report it")
            return true
        }
        do {
            if let outcome = try store.record(line: line, result: result, raw: delivery.message.body) {
                progress.record(outcome)
            } else {
                repeated += 1
            }
            return true
        } catch {
            writeFailure = error
            return false
        }
    }

    /// Waits until every row is answered (true), or no result has come for `idleTimeout` (false).
    /// After a few quiet seconds, and every half minute of quiet after that, it names the rows it waits for.
    func waitForAll(idleTimeout: Duration) async -> Bool {
        lastResult = .now
        var lastNamed: ContinuousClock.Instant?
        while progress.answered < progress.total {
            let now = ContinuousClock.now
            if writeFailure != nil || now - lastResult > idleTimeout { return false }
            if now - lastResult >= .seconds(3), lastNamed.map({ $0 < lastResult || now - $0 >= .seconds(30) }) ?? true {
                progress.note("waiting for \(unansweredLines) (no result for \((now - lastResult).components.seconds)s; "
                    + "giving up after \(idleTimeout.components.seconds)s without one)")
                lastNamed = now
            }
            try? await Task.sleep(for: .milliseconds(200))
            progress.show()
        }
        return true
    }

    /// The rows without an answer, by line (never by NHS number): "3 rows: lines 2-4, 9".
    private var unansweredLines: String {
        let missing = nhsNumbers.keys.filter { !store.answered.contains($0) }.sorted()
        var ranges: [ClosedRange<Int>] = []
        for line in missing {
            if let last = ranges.last, last.upperBound == line - 1 {
                ranges[ranges.count - 1] = last.lowerBound...line
            } else {
                ranges.append(line...line)
            }
        }
        let shown = 20
        let count = missing.count
        return "\(count) row\(count == 1 ? "" : "s"): line\(count == 1 ? "" : "s") "
            + ranges.prefix(shown).map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
                .joined(separator: ", ")
            + (ranges.count > shown ? " and \(ranges.count - shown) more ranges" : "")
    }

    func finish(complete: Bool) throws -> String {
        progress.show(force: true)
        progress.finish()
        try store.finish(complete: complete)
        let counts = progress.outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let unanswered = progress.total - progress.answered
        return "batch \(store.batchID): \(progress.total) rows, \(progress.answered) answered"
            + (counts.isEmpty ? "" : " (this run: \(counts))")
            + (unanswered > 0 ? ", NOT answered yet: \(unansweredLines); run again later with the same file and results "
                + "file to collect them (if their requests are known to be lost, --resend-unanswered sends them again)" : "")
            + (foreign > 0 ? "; \(foreign) results that were not this batch's were set aside" : "")
            + (crossed > 0 ? "; \(crossed) results about another child than their row's were NOT written (see SAFETY above)" : "")
            + (repeated > 0 ? "; \(repeated) repeated results (a row answered again) were not written twice" : "")
            + "; results in \(store.url.path)"
    }
}
