import AMQPClient
import ArgumentParser
import Foundation
import Logging
import SMSPSimulator
import Synchronization
import Worker

/// The worker as operations run it: `cpis worker` in its own process against the real broker, the
/// SMSP simulator at a fixed latency over mutual TLS, a shift-start batch queued and triage lookups
/// beside it. Prints throughput against the bound C/L, triage latency above L, CPU per lookup and
/// memory, at several concurrency bounds. Asserts nothing.
struct WorkerBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Lookups per second, triage latency, CPU per lookup and memory of `cpis worker` beside a batch."
    )

    @Option(help: "Concurrency bounds (maxInFlight) to measure, comma separated.")
    var inFlight = "64,8,256"

    @Option(help: "Slots kept for triage.")
    var reservedForTriage = 4

    @Option(help: "Batch lookups queued before the worker starts.")
    var batch = 3000

    @Option(help: "Triage lookups per second beside the batch.")
    var triageRate = 5.0

    @Option(help: """
        NHS numbers to look up, in turn, comma separated. The default is a number CP-IS has no record of; \
        dataset patients (9990000018, ...) get full answers with up to 25 accesses each.
        """)
    var nhsNumbers = "9434765919"

    @Option(help: "The simulated SMSP's latency, ms.")
    var latencyMs = 50

    @OptionGroup var simulatorOptions: SimulatorOptions

    @Option(help: "The broker's process id, to report its CPU per lookup too (Deploy/benchmark.sh passes it).")
    var brokerPid: Int32?

    @Option(help: "The broker (default: CPIS_AMQP_URL).")
    var amqpURL = ProcessInfo.processInfo.environment["CPIS_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5682/"

    func run() async throws {
        var logger = Logger(label: "bench.worker")
        logger.logLevel = .error
        let server = try simulatorOptions.startServer(
            behaviour: SimulatorBehaviour(latency: .fixed(.milliseconds(latencyMs))), logger: logger)
        defer { server.shutdown() }
        let broker = try await AMQPConnection.connect(try AMQPConfiguration(url: amqpURL), logger: logger)

        print("""
            worker benchmark: \(batch) batch lookups queued, \(triageRate) triage lookups/s beside them (answered by direct reply-to), for \(nhsNumbers), SMSP latency \
            L = \(latencyMs) ms, \(reservedForTriage) slots kept for triage; \(ProcessInfo.processInfo.activeProcessorCount) \
            cores shared by the worker, the broker, the simulator and this load generator
            """)
        for bound in inFlight.split(separator: ",").compactMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
            let figures = try await measure(bound: bound, broker: broker, port: server.port)
            print(figures)
        }
        await broker.close()
    }

    private func measure(bound: Int, broker: AMQPConnection, port: Int) async throws -> String {
        let prefix = "bench.\(UUID().uuidString.prefix(8).lowercased())"
        let topology = Self.topology(prefix: prefix)
        try await topology.declare(on: broker)
        // The batch's answers go to a queue, as a batch job's do; triage waits on direct reply-to,
        // as the contract says a caller waiting at triage does.
        let replies = (triage: AMQPQueue.directReplyTo, batch: "\(prefix).batch.replies")
        let arrivals = Mutex<[String: ContinuousClock.Instant]>([:])
        try await broker.declare(AMQPQueue.quorum(replies.batch))
        let triageReplies = "\(prefix).triage.replies"
        for (queue, tag) in [(replies.triage, triageReplies), (replies.batch, replies.batch)] {
            try await broker.consume(AMQPConsumer(queue: queue, tag: tag, prefetch: 0, acknowledgement: .automatic)) { delivery in
                let now = ContinuousClock.now
                if let id = delivery.message.properties.correlationId {
                    arrivals.withLock { if $0[id] == nil { $0[id] = now } }
                }
            }
        }
        // Drain the audit queue as an audit consumer would, so it does not grow through the run.
        try await broker.consume(AMQPConsumer(queue: topology.audit, tag: topology.audit, prefetch: 0,
                                              acknowledgement: .automatic)) { _ in }

        // The batch, queued before the worker starts.
        let numbers = nhsNumbers.split(separator: ",").map { String($0.filter { $0.isNumber }) }
        let batchIds = (0..<batch).map { "b\($0)-\(prefix)" }
        let published = ContinuousClock.now
        for chunk in stride(from: 0, to: batch, by: 200) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in chunk..<min(batch, chunk + 200) {
                    group.addTask {
                        try await broker.publish(Self.request(numbers[index % numbers.count], id: batchIds[index],
                                                              replyTo: replies.batch), routingKey: topology.batch)
                    }
                }
                try await group.waitForAll()
            }
        }

        let worker = try startWorker(bound: bound, topology: topology, port: port)
        // Starting (the process, its settings, its connections) is a cost of its own, not a
        // lookup's: CPU is counted per lookup from the worker's first answer, and start-up apart.
        while arrivals.withLock({ $0.isEmpty }), worker.isRunning, ContinuousClock.now - published < .seconds(60) {
            try await Task.sleep(for: .milliseconds(1))
        }
        let before = ProcessStatistics(pid: worker.processIdentifier)
        let brokerBefore = brokerPid.map(ProcessStatistics.init)
        let selfBefore = ProcessStatistics(pid: getpid())
        let answeredBefore = arrivals.withLock { $0.count }

        // Triage beside the batch, at a steady rate, until the batch is answered.
        var triageSent: [String: ContinuousClock.Instant] = [:]
        var index = 0
        while arrivals.withLock({ state in batchIds.filter { state[$0] != nil }.count }) < batch {
            let id = "t\(index)-\(prefix)"
            triageSent[id] = .now
            try await broker.publish(Self.request(numbers[index % numbers.count], id: id, replyTo: replies.triage),
                                     routingKey: topology.triage)
            index += 1
            try await Task.sleep(for: .seconds(1 / triageRate))
            if ContinuousClock.now - published > .seconds(600) { break }
        }
        try await Task.sleep(for: .milliseconds(500))  // the last triage lookups' answers
        let after = ProcessStatistics(pid: worker.processIdentifier)
        let brokerAfter = brokerPid.map(ProcessStatistics.init)
        let selfAfter = ProcessStatistics(pid: getpid())
        worker.terminate()
        worker.waitUntilExit()

        let answered = arrivals.withLock { $0 }
        let batchTimes = batchIds.compactMap { answered[$0] }.sorted()
        let latency = Duration.milliseconds(latencyMs)
        let triageAbove = triageSent.compactMap { id, sent in answered[id].map { ($0 - sent - latency).milliseconds } }.sorted()
        let lookups = batchTimes.count + triageAbove.count
        let drain = (batchTimes.last! - batchTimes.first!).milliseconds / 1000
        let rate = Double(batchTimes.count - 1) / drain
        let ceiling = Double(bound) / latency.milliseconds * 1000
        let batchLatency = batchTimes.map { ($0 - published).milliseconds }
        func perLookup(_ before: ProcessStatistics?, _ after: ProcessStatistics?) -> Double {
            guard let before, let after else { return .nan }
            return (after.cpuSeconds - before.cpuSeconds) * 1000 / Double(lookups - answeredBefore)
        }
        let cpu = perLookup(before, after)
        try? await broker.cancel(consumerTag: triageReplies)
        for queue in topology.declarations.queues.map(\.name) + [replies.batch] {
            try? await broker.deleteQueue(queue)
        }
        return String(format: """
            maxInFlight %d: %.0f lookups/s = %.2f of C/L (%.0f/s; batch alone may use %.2f of it), \
            %d answered of %d batch + %d triage
              triage above L: p50 %.1f ms, p99 %.1f ms (%d lookups); batch, from queued to answered: p50 %.2f s
              worker: %.3f ms CPU per lookup (from its first answer; %.0f ms CPU starting), \
            RSS %.1f MB (peak %.1f MB), %d threads; on the same cores, the broker %.3f ms and the simulator \
            with this load generator %.3f ms per lookup
            """, bound, rate, rate / ceiling, ceiling, Double(bound - reservedForTriage) / Double(bound),
            batchTimes.count, batch, triageAbove.count,
            Self.percentile(triageAbove, 0.5), Self.percentile(triageAbove, 0.99), triageAbove.count,
            Self.percentile(batchLatency, 0.5) / 1000, cpu, before.cpuSeconds * 1000, after.rssMB, after.peakRSSMB, after.threads,
            perLookup(brokerBefore, brokerAfter), perLookup(selfBefore, selfAfter))
    }

    private func startWorker(bound: Int, topology: WorkerTopology, port: Int) throws -> Process {
        try Self.startWorker(amqpURL: amqpURL, topology: topology, smspPort: port, certificates: simulatorOptions.certificates,
                             bound: bound, reservedForTriage: reservedForTriage)
    }

    /// `cpis worker` against the simulator on `smspPort`, with `bound` SMSP calls at most.
    static func startWorker(amqpURL: String, topology: WorkerTopology, smspPort: Int, certificates: String, bound: Int,
                            reservedForTriage: Int) throws -> Process {
        try startCPIS("worker", settings: """
            broker: { url: "\(amqpURL)" }
            \(topology.settingsYAML)
            smsp:
              endpoint: https://localhost:\(smspPort)/smsp/cpis
              tls: { ca: \(certificates)/ca.pem, certificate: \(certificates)/client.pem, key: \(certificates)/client.key }
            concurrency: { maxInFlight: \(bound), reservedForTriage: \(reservedForTriage) }
            monitoring: { port: 0 }
            """)
    }

    /// Starts `cpis <command>` (next to this executable) on a settings file holding `settings`.
    static func startCPIS(_ command: String, settings: String) throws -> Process {
        let file = FileManager.default.temporaryDirectory.appending(path: "bench-\(command)-\(UUID().uuidString).yaml")
        try settings.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appending(path: "cpis")
        process.arguments = [command, "--config", file.path]
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "CPIS_AMQP_URL")
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// The contract's topology under names of the run's own.
    static func topology(prefix: String) -> WorkerTopology {
        var topology = WorkerTopology()
        for keyPath in [\WorkerTopology.triage, \.batch, \.dead, \.unanswered, \.deadLetterExchange, \.results,
                        \.retryPrefix, \.accessExchange, \.audit] {
            topology[keyPath: keyPath] = topology[keyPath: keyPath].replacingOccurrences(of: "cpis", with: prefix)
        }
        return topology
    }

    static func request(_ nhsNumber: String, id: String, replyTo: String) -> AMQPMessage {
        AMQPMessage("""
            {"nhsNumber":"\(nhsNumber)","requester":{"organisation":{"odsCode":"RKE","name":"The Whittington Hospital"},
             "user":{"sdsUserId":"200009876204","jobRole":{"code":"R0260","displayName":"General Medical Practitioner"},
             "name":{"prefix":"Dr","given":"Paula","family":"Palmer"}}}}
            """, properties: AMQPProperties(contentType: "application/json", correlationId: id, replyTo: replyTo,
                                            messageId: id, timestamp: Date()))
    }

    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }
}

/// A process's CPU time, memory and threads, from /proc.
struct ProcessStatistics {
    var cpuSeconds = 0.0
    var rssMB = 0.0
    var peakRSSMB = 0.0
    var threads = 0

    init(pid: Int32) {
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            // Fields after the command name: state is 3rd, utime 14th, stime 15th (1-based, whole line).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            if fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) {
                cpuSeconds = (user + system) / ticks
            }
        }
        if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) {
            for line in status.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                let number = Double(value.split(separator: " ").first ?? "") ?? 0
                switch parts[0] {
                case "VmRSS": rssMB = number / 1024
                case "VmHWM": peakRSSMB = number / 1024
                case "Threads": threads = Int(number)
                default: break
                }
            }
        }
    }
}
