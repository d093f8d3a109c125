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
            Every row is checked before anything is sent, and bad rows are reported by line. Requests are published \
            with broker confirms; results come back on a durable queue of the batch's own, so none is lost if this \
            stops. Run it again with the same results file to send only what is not answered yet. Exit status: 0 \
            when every row has its answer (whatever the outcome), 1 for bad rows or options, 3 when some rows are \
            still unanswered (after --idle-timeout without a result).
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

    @Option(help: "The durable queue the results come back on (default: cpis.batch.<the file's fingerprint>).")
    var replyQueue: String?

    @Option(help: "Stop waiting after this many seconds without a result.")
    var idleTimeout = 300

    @Flag(help: "Check every row and stop: nothing is sent.")
    var dryRun = false

    @OptionGroup var broker: BrokerOptions

    func run() async throws {
        let batch = try readBatch()
        if dryRun {
            print("\(batch.rows.count) rows, all valid; nothing sent (--dry-run)")
            return
        }
        let resultsURL = URL(fileURLWithPath: results ?? URL(fileURLWithPath: file).deletingPathExtension().path + ".results.csv")
        let store = try BatchResults(url: resultsURL)
        let lines = Set(batch.rows.map(\.line))
        let alreadyAnswered = store.answered.intersection(lines).count
        let toSend = batch.rows.filter { !store.answered.contains($0.line) && !store.sent.contains($0.line) }
        let run = BatchRun(store: store, progress: BatchProgress(total: batch.rows.count, alreadyAnswered: alreadyAnswered),
                           batchID: batch.id, lines: lines)
        if alreadyAnswered > 0 || toSend.count < batch.rows.count - alreadyAnswered {
            print("resuming: \(alreadyAnswered) answered in \(resultsURL.lastPathComponent), "
                + "\(batch.rows.count - alreadyAnswered - toSend.count) sent and awaited, \(toSend.count) to send")
        }

        try bootstrapLoggingFromEnvironment(defaultLevel: .warning)
        let configuration = try await broker.configuration(connectionName: "cpis batch \(batch.id)")
        let connection = try await AMQPConnection.connect(configuration, logger: Logger(label: "cpis.batch"))
        let replies = replyQueue ?? "cpis.batch.\(batch.id)"
        try await connection.declare(AMQPQueue.quorum(replies))
        let arrivals = AsyncStream<AMQPDelivery>.makeStream()
        try await connection.consume(AMQPConsumer(queue: replies, tag: "results", prefetch: 200)) {
            arrivals.continuation.yield($0)
        }
        let receiving = Task {
            for await delivery in arrivals.stream {
                await run.received(delivery)
                try? await connection.ack(delivery)
            }
        }

        try await publish(toSend, batchID: batch.id, replyQueue: replies, username: configuration.username,
                          on: connection, run: run)
        let complete = await run.waitForAll(idleTimeout: .seconds(idleTimeout))
        receiving.cancel()
        arrivals.continuation.finish()
        if complete { try? await connection.deleteQueue(replies) }
        await connection.close()
        let summary = try await run.finish(complete: complete)
        print(summary)
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

    /// Publishes with confirms, a window of them at a time; each confirmed row goes in the journal.
    private func publish(_ rows: [BatchFile.Row], batchID: String, replyQueue: String, username: String,
                         on connection: AMQPConnection, run: BatchRun) async throws {
        let window = 100
        for start in stride(from: 0, to: rows.count, by: window) {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for row in rows[start..<min(rows.count, start + window)] {
                    group.addTask {
                        let id = "\(batchID)-\(row.line)"
                        try await connection.publish(AMQPMessage(body: row.body, properties: AMQPProperties(
                            contentType: "application/json", persistent: true, correlationId: id, replyTo: replyQueue,
                            messageId: id, timestamp: Date(), userId: username)), routingKey: queue, mandatory: true)
                        return row.line
                    }
                }
                for try await line in group { try await run.sent(line) }
            }
        }
    }
}

/// The state of one run: what has been sent and answered, and the progress display.
private actor BatchRun {
    private let store: BatchResults
    private var progress: BatchProgress
    private let batchID: String
    private let lines: Set<Int>
    private var lastResult = ContinuousClock.now

    init(store: BatchResults, progress: BatchProgress, batchID: String, lines: Set<Int>) {
        self.store = store
        self.progress = progress
        self.batchID = batchID
        self.lines = lines
    }

    func sent(_ line: Int) throws {
        try store.recordSent(line: line)
    }

    func received(_ delivery: AMQPDelivery) {
        guard let result = try? JSONSerialization.jsonObject(with: Data(delivery.message.body)) as? [String: Any],
              let requestId = result["requestId"] as? String, requestId.hasPrefix("\(batchID)-"),
              let line = Int(requestId.dropFirst(batchID.count + 1)), lines.contains(line)
        else { return }
        lastResult = .now
        do {
            if let outcome = try store.record(line: line, result: result, raw: delivery.message.body) {
                progress.answered(outcome)
            }
        } catch {
            FileHandle.standardError.write(Data("cannot write the results file: \(error)\n".utf8))
        }
    }

    /// Waits until every row is answered (true), or no result has come for `idleTimeout` (false).
    func waitForAll(idleTimeout: Duration) async -> Bool {
        lastResult = .now
        while progress.answered < progress.total {
            if ContinuousClock.now - lastResult > idleTimeout { return false }
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
        return "batch \(batchID): \(progress.total) rows, \(progress.answered) answered"
            + (counts.isEmpty ? "" : " (this run: \(counts))")
            + (unanswered > 0 ? ", \(unanswered) NOT answered yet: run again later to collect them" : "")
            + "; results in \(store.url.path)"
    }
}
