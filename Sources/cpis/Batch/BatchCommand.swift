import AMQPClient
import ArgumentParser
import CPISDomain
import Foundation
import Logging

/// `cpis batch patients.csv`: a shift's expected patients looked up on the batch lane, each result
/// written to a results file as it arrives. Safe to interrupt and run again: it resumes.
struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Look up a shift's patients from a CSV file on the batch lane, writing each result as it arrives.",
        discussion: """
            Every row is checked before anything is sent, and bad rows are reported by line. Each row is journalled \
            beside the results file, then published with a broker confirm; results come back on a durable queue of \
            the batch's own (cpis.batch.<batch id>), so none is lost if this stops. Run it again with the same file \
            and results file to resume: it sends no row twice. Exit status: 0 when every row has its answer \
            (whatever the outcome), 1 for bad rows, 3 when some rows are still unanswered after --idle-timeout \
            seconds without a result (run again later; --resend-unanswered sends those again), 64 for wrong \
            options, and another non-zero status for other failures (the broker unreachable, a file unwritable).
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
        Send again the rows sent by an earlier run that never got a result. CP-IS may have been asked about them \
        already: use it when the requests are known to be lost (their queue deleted, say).
        """)
    var resendUnanswered = false

    @OptionGroup var broker: BrokerOptions

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
            throw ValidationError(refusal.description)
        }
        let lines = Set(batch.rows.map(\.line))
        let alreadyAnswered = store.answered.intersection(lines).count
        let toSend = batch.rows.filter { row in
            !store.answered.contains(row.line) && (resendUnanswered || !store.journalled.contains(row.line))
        }
        let run = BatchRun(store: store, progress: BatchProgress(total: batch.rows.count, alreadyAnswered: alreadyAnswered),
                           lines: lines)
        if alreadyAnswered > 0 || toSend.count < batch.rows.count - alreadyAnswered {
            print("resuming batch \(store.batchID): \(alreadyAnswered) answered in \(resultsURL.lastPathComponent), "
                + "\(batch.rows.count - alreadyAnswered - toSend.count) sent and awaited, \(toSend.count) to send")
        }

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
            try await publish(toSend, replyQueue: replies, username: configuration.username, on: connection, run: run)
        } catch {
            let message = "publishing stopped: \(error); the rows journalled but not sent are reported unanswered at the end\n"
            FileHandle.standardError.write(Data(message.utf8))
        }
        let complete = await run.waitForAll(idleTimeout: .seconds(idleTimeout))
        receiving.cancel()
        arrivals.continuation.finish()
        if complete { try? await connection.deleteQueue(replies) }
        await connection.close()
        let summary = try await run.finish(complete: complete)
        print(summary)
        if let failure = await run.writeFailure { throw ValidationError("cannot write \(resultsURL.path): \(failure)") }
        if !complete { throw ExitCode(3) }
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

    /// Journals a window of rows, then publishes them with confirms.
    private func publish(_ rows: [BatchFile.Row], replyQueue: String, username: String,
                         on connection: AMQPConnection, run: BatchRun) async throws {
        let window = 100
        for start in stride(from: 0, to: rows.count, by: window) {
            let chunk = rows[start..<min(rows.count, start + window)]
            let ids = try await run.journal(lines: chunk.map(\.line))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (row, id) in zip(chunk, ids) {
                    group.addTask {
                        try await connection.publish(AMQPMessage(body: row.body, properties: AMQPProperties(
                            contentType: "application/json", persistent: true, correlationId: id, replyTo: replyQueue,
                            messageId: id, timestamp: Date(), userId: username)), routingKey: queue, mandatory: true)
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}

/// The state of one run: what has been sent and answered, and the progress display.
private actor BatchRun {
    private let store: BatchResults
    private var progress: BatchProgress
    private let lines: Set<Int>
    private var lastResult = ContinuousClock.now
    /// Results that were not this batch's (the queue is the batch's own: they should not exist).
    private var foreign = 0
    /// Results for rows already answered (publishing is at-least-once; a worker killed between the
    /// broker's confirm and its acknowledgement answers again).
    private var repeated = 0
    private(set) var writeFailure: (any Error)?

    init(store: BatchResults, progress: BatchProgress, lines: Set<Int>) {
        self.store = store
        self.progress = progress
        self.lines = lines
    }

    /// Journals rows before they are sent; returns their request ids.
    func journal(lines: [Int]) throws -> [String] {
        try store.journal(lines: lines)
        return lines.map(store.requestID)
    }

    /// Writes a result; false when it could not be written (the run stops, the result stays queued).
    func received(_ delivery: AMQPDelivery) -> Bool {
        guard let result = try? JSONSerialization.jsonObject(with: Data(delivery.message.body)) as? [String: Any],
              let line = (result["requestId"] as? String).flatMap(store.line(ofRequestID:)), lines.contains(line)
        else {
            foreign += 1
            return true
        }
        lastResult = .now
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
    func waitForAll(idleTimeout: Duration) async -> Bool {
        lastResult = .now
        while progress.answered < progress.total {
            if writeFailure != nil || ContinuousClock.now - lastResult > idleTimeout { return false }
            try? await Task.sleep(for: .milliseconds(200))
            progress.show()
        }
        return true
    }

    func finish(complete: Bool) throws -> String {
        progress.show(force: true)
        progress.finish()
        try store.finish(complete: complete)
        let counts = progress.outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let unanswered = progress.total - progress.answered
        return "batch \(store.batchID): \(progress.total) rows, \(progress.answered) answered"
            + (counts.isEmpty ? "" : " (this run: \(counts))")
            + (unanswered > 0 ? ", \(unanswered) NOT answered yet: run again later to collect them" : "")
            + (foreign > 0 ? "; \(foreign) results that were not this batch's were set aside" : "")
            + (repeated > 0 ? "; \(repeated) repeated results (a row answered again) were not written twice" : "")
            + "; results in \(store.url.path)"
    }
}
