import AMQPClient
import ArgumentParser
import CPISDomain
import Foundation
import HTTPTransport
import Logging
import SMSPSimulator
import Synchronization
import Worker

/// The SMSP front door as care providers' systems use it: `cpis front-door` and `cpis worker` in
/// processes of their own against the real broker, the simulator at a fixed latency, and SMSP
/// clients over mutual TLS (keep-alive), each sending one query after another. Prints queries/s
/// against the bound, latency above L, the front door's CPU per query and memory. Asserts nothing.
struct FrontDoorBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "front-door",
        abstract: "Queries per second, latency, CPU per query and memory of `cpis front-door` in front of a worker."
    )

    @Option(help: "SMSP clients sending at once (each waits for its answer before sending again).")
    var clients = 64

    @Option(help: "The worker's concurrency bound (maxInFlight).")
    var inFlight = 64

    @Option(help: "How long to send for, seconds.")
    var seconds = 15

    @Option(help: "The simulated SMSP's latency, ms.")
    var latencyMs = 50

    @Option(help: "The front door's port.")
    var port = 9543

    @Option(help: "The NHS number asked about (default: one CP-IS has no record of).")
    var nhsNumber = "9434765919"

    @OptionGroup var simulatorOptions: SimulatorOptions

    @Option(help: "The broker's process id, to report its CPU per query too (Deploy/benchmark.sh passes it).")
    var brokerPid: Int32?

    @Option(help: "The broker (default: CPIS_AMQP_URL).")
    var amqpURL = ProcessInfo.processInfo.environment["CPIS_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5682/"

    func run() async throws {
        var logger = Logger(label: "bench.front-door")
        logger.logLevel = .error
        let server = try simulatorOptions.startServer(
            behaviour: SimulatorBehaviour(latency: .fixed(.milliseconds(latencyMs))), logger: logger)
        defer { server.shutdown() }
        let broker = try await AMQPConnection.connect(try AMQPConfiguration(url: amqpURL), logger: logger)
        let prefix = "bench.\(UUID().uuidString.prefix(8).lowercased())"
        let topology = WorkerBenchmark.topology(prefix: prefix)
        try await topology.declare(on: broker)
        try await broker.consume(AMQPConsumer(queue: topology.audit, tag: topology.audit, prefetch: 0,
                                              acknowledgement: .automatic)) { _ in }

        let certificates = simulatorOptions.certificates
        let worker = try WorkerBenchmark.startWorker(amqpURL: amqpURL, topology: topology, smspPort: server.port,
                                                     certificates: certificates, bound: inFlight, reservedForTriage: 0)
        let frontDoor = try WorkerBenchmark.startCPIS("front-door", settings: """
            listen: { port: \(port) }
            tls: { certificate: \(certificates)/server.pem, key: \(certificates)/server.key, clientCA: \(certificates)/ca.pem }
            broker: { url: "\(amqpURL)" }
            topology: { triage: \(topology.triage) }
            limits: { maxConnectionsPerClient: \(clients + 8) }
            monitoring: { enabled: false }
            logging: { level: warning }
            """)
        defer {
            for process in [frontDoor, worker] where process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        try await waitUntilListening()

        print("""
            front door benchmark: \(clients) SMSP clients over mutual TLS, each asking again as soon as answered, for \
            \(seconds) s, through a worker (maxInFlight \(inFlight)), SMSP latency L = \(latencyMs) ms; \
            \(ProcessInfo.processInfo.activeProcessorCount) cores shared by the front door, the worker, the broker, \
            the simulator and these clients
            """)
        let statistics = { [brokerPid] in (frontDoor: ProcessStatistics(pid: frontDoor.processIdentifier),
                                           worker: ProcessStatistics(pid: worker.processIdentifier),
                                           broker: brokerPid.map(ProcessStatistics.init)) }
        let warmUp = try await send(for: .seconds(2))
        let before = statistics()
        let measured = try await send(for: .seconds(seconds))
        let after = statistics()
        let latency = Duration.milliseconds(latencyMs)
        let above = measured.latencies.map { ($0 - latency).milliseconds }.sorted()
        let rate = Double(measured.latencies.count) / Double(seconds)
        let ceiling = Double(min(clients, inFlight)) / latency.milliseconds * 1000
        let perQuery = { (before: ProcessStatistics, after: ProcessStatistics) in
            (after.cpuSeconds - before.cpuSeconds) * 1000 / Double(max(1, measured.latencies.count))
        }
        print(String(format: """
            %.0f queries/s = %.2f of the bound %.0f/s (min(clients, maxInFlight)/L); %d answered, %d not (%d in warm-up)
              latency above L: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms
              front door: %.3f ms CPU per query, RSS %.1f MB (peak %.1f MB); on the same cores, the worker \
            %.3f ms and the broker %.3f ms per query
            """, rate, rate / ceiling, ceiling, measured.latencies.count, measured.failures, warmUp.latencies.count,
            WorkerBenchmark.percentile(above, 0.5), WorkerBenchmark.percentile(above, 0.9),
            WorkerBenchmark.percentile(above, 0.99), perQuery(before.frontDoor, after.frontDoor),
            after.frontDoor.rssMB, after.frontDoor.peakRSSMB, perQuery(before.worker, after.worker),
            before.broker.flatMap { brokerBefore in after.broker.map { perQuery(brokerBefore, $0) } } ?? .nan))
        for queue in topology.declarations.queues.map(\.name) { try? await broker.deleteQueue(queue) }
        await broker.close()
    }

    private func waitUntilListening() async throws {
        guard let url = URL(string: "https://localhost:\(port)") else { throw ValidationError("bad port") }
        let client = try HTTPClient(tls: clientTLS)
        defer { client.shutdown() }
        for _ in 0..<100 {
            if (try? client.execute(HTTPRequest(method: "GET", target: "/"), url: url, timeout: .seconds(1))) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("the front door did not start on port \(port)")
    }

    private var clientTLS: TLSConfiguration {
        .client(caFile: "\(simulatorOptions.certificates)/ca.pem", certificateFile: "\(simulatorOptions.certificates)/client.pem",
                keyFile: "\(simulatorOptions.certificates)/client.key")
    }

    /// Every client asks, one query after another, until `duration` has passed.
    private func send(for duration: Duration) async throws -> (latencies: [Duration], failures: Int) {
        let outcomes = Mutex<(latencies: [Duration], failures: Int)>(([], 0))
        let end = ContinuousClock.now + duration
        let endpoint = "https://localhost:\(port)/smsp/cpis"
        let builder = SMSPRequestBuilder(identity: SMSPIdentity(endpoint: endpoint, username: "bench", senderODSCode: "RKE"))
        let number = try NHSNumber(nhsNumber)
        let requester = Requester(organisation: Organisation(odsCode: "RKE", name: "The Whittington Hospital"),
                                  author: .user(UserAuthor(sdsUserId: "200009876204",
                                                           jobRole: JobRole(code: "R0260", displayName: "General Medical Practitioner"),
                                                           name: PersonName(given: "Paula", family: "Palmer"))))
        let tls = clientTLS
        guard let url = URL(string: "https://localhost:\(port)") else { throw ValidationError("bad port") }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let group = DispatchGroup()
            for _ in 0..<clients {
                group.enter()
                Thread {
                    defer { group.leave() }
                    guard let client = try? HTTPClient(tls: tls) else { return }
                    defer { client.shutdown() }
                    while ContinuousClock.now < end {
                        let started = ContinuousClock.now
                        guard let request = try? builder.build(nhsNumber: number, requester: requester) else { return }
                        let response = try? client.execute(HTTPRequest(
                            method: "POST", target: "/smsp/cpis",
                            headers: ["Content-Type": "text/xml; charset=utf-8", "SOAPAction": request.soapAction],
                            body: Array(request.body.utf8)), url: url, timeout: .seconds(30))
                        let answered = response.map { $0.status == 200 } ?? false
                        let elapsed = ContinuousClock.now - started
                        outcomes.withLock { answered ? $0.latencies.append(elapsed) : ($0.failures += 1) }
                    }
                }.start()
            }
            group.notify(queue: .global()) { done.resume() }
        }
        return outcomes.withLock { $0 }
    }
}
