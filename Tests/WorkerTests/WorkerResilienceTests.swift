import AMQPClient
import TestSupport
import CPISDomain
import Foundation
import SMSPSimulator
import Testing
@testable import Worker

/// Load and failure: a shift-start batch beside triage, a worker killed, the broker dropping
/// connections, a graceful stop. Every request must be answered; none lost.
@Suite("worker: load and failures", .serialized, .timeLimit(.minutes(10)))
struct WorkerResilienceTests {
    /// Test patients and no-record numbers to spread a batch over.
    static let numbers = ["9990000018", "9990000026", "9990000034", "9990000042", "9990000050", "9990000069",
                          "9434765919"]

    /// Publishes `count` batch lookups, 50 at a time; returns their ids.
    static func publishBatch(_ rig: WorkerRig, count: Int) async throws -> [String] {
        let ids = (0..<count).map { "batch-\($0)-\(UUID().uuidString.prefix(8))" }
        for chunk in stride(from: 0, to: count, by: 50) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in chunk..<min(count, chunk + 50) {
                    group.addTask {
                        try await rig.send(WorkerRig.body(numbers[index % numbers.count]), lane: .batch, id: ids[index])
                    }
                }
                try await group.waitForAll()
            }
        }
        return ids
    }

    static func answeredIds(_ rig: WorkerRig) -> [String] {
        rig.replies.all.compactMap { WorkerRig.json($0)?["requestId"] as? String }
    }

    @Test("with a 2,000-lookup batch queued, triage lookups are answered promptly and every batch lookup is answered")
    func batchAndTriage() async throws {
        let rig = try await WorkerRig(maximumInFlight: 8, reservedForTriage: 2)
        rig.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.milliseconds(20)))
        func triageLatencies() async throws -> [Duration] {
            var latencies: [Duration] = []
            for index in 0..<10 {
                let started = ContinuousClock.now
                let id = try await rig.send(WorkerRig.body(Self.numbers[index % Self.numbers.count]))
                _ = try await rig.result(for: id)
                latencies.append(ContinuousClock.now - started)
            }
            return latencies.sorted()
        }
        let idle = try await triageLatencies()
        let batch = try await Self.publishBatch(rig, count: 2000)
        let sorted = try await triageLatencies()
        let batchAnsweredDuringTriage = Set(Self.answeredIds(rig)).intersection(batch).count
        let results = try await rig.results(for: batch, timeout: .seconds(120))
        #expect(results.count == 2000)
        #expect(results.values.allSatisfy { ["records-found", "no-record"].contains($0["outcome"] as? String) })

        print("""
            [figures] triage round trip (EPR publish to result, simulator latency 20 ms, 8 slots, 2 kept for triage): \
            idle p50 \(idle[5]), max \(idle[9]); beside a 2,000-lookup batch p50 \(sorted[5]), max \(sorted[9]), \
            while \(batchAnsweredDuringTriage) batch lookups were answered
            """)
        await rig.stop()
    }

    @Test("the broker drops every connection mid-batch: the worker recovers and every request is answered")
    func connectionsDropped() async throws {
        let rig = try await WorkerRig(maximumInFlight: 8, reservedForTriage: 2)
        rig.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.milliseconds(10)))
        let ids = try await Self.publishBatch(rig, count: 400)
        _ = try await rig.replies.wait(for: "100 results") { $0.count >= 100 }
        try BrokerEnvironment.ctl("close_all_connections", "test: broker dropped connections mid-batch")
        let results = try await rig.results(for: ids, timeout: .seconds(120))
        #expect(results.count == 400)
        let answers = Self.answeredIds(rig).filter(Set(ids).contains)
        // A result in flight at the drop may be sent again by the broker client (at-least-once);
        // the worker itself never answers a request twice, nor asks CP-IS twice.
        print("[figures] connections dropped mid-batch: \(answers.count) result messages for \(ids.count) requests")
        // CP-IS was asked exactly once for each request about a patient it knows.
        let known = ids.indices.filter { Self.numbers[$0 % Self.numbers.count].hasPrefix("999") }.count
        #expect(Set(rig.simulator.notifications().map(\.messageID)).count == known)
        await rig.stop()
    }

    @Test("SIGKILL mid-batch, then a restart: every request answered, none lost")
    func killedMidBatch() async throws {
        let rig = try await WorkerRig(startWorker: false)
        rig.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.milliseconds(15)))
        try await rig.topology.declare(on: rig.epr)
        let ids = try await Self.publishBatch(rig, count: 300)
        let first = try WorkerProcess(rig)
        _ = try await rig.replies.wait(for: "50 results") { $0.count >= 50 }
        first.kill(signal: SIGKILL)
        #expect(first.waitForExit() == SIGKILL)
        let answeredBeforeRestart = Set(Self.answeredIds(rig)).count
        let second = try WorkerProcess(rig)
        let results = try await rig.results(for: ids, timeout: .seconds(120))
        #expect(results.count == 300, "lost: \(Set(ids).subtracting(results.keys).count)")
        print("[figures] killed after \(answeredBeforeRestart) of 300 answered; all 300 answered after the restart")
        second.kill(signal: SIGTERM)
        #expect(second.waitForExit() == 0)
        await rig.stop()
    }

    @Test("SIGTERM mid-batch: in-flight lookups finish or go back to the queue, and the process exits 0")
    func gracefulStop() async throws {
        let rig = try await WorkerRig(startWorker: false)
        rig.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.milliseconds(50)))
        try await rig.topology.declare(on: rig.epr)
        let ids = try await Self.publishBatch(rig, count: 200)
        let process = try WorkerProcess(rig)
        _ = try await rig.replies.wait(for: "20 results") { $0.count >= 20 }
        process.kill(signal: SIGTERM)
        #expect(process.waitForExit() == 0)
        let answeredByFirst = Set(Self.answeredIds(rig)).count
        // Nothing was lost: what it had not finished is back in the queue for the next worker.
        try await rig.start()
        let results = try await rig.results(for: ids, timeout: .seconds(120))
        #expect(results.count == 200)
        print("[figures] SIGTERM after \(answeredByFirst) of 200 answered; the rest answered by the next worker")
        await rig.stop()
    }
}

extension WorkerResilienceTests {
    @Test("SIGTERM drains; a second signal stops at once, and what was in flight goes back to the queue")
    func secondSignal() async throws {
        let rig = try await WorkerRig(startWorker: false)
        try await rig.topology.declare(on: rig.epr)
        rig.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.seconds(8)))
        let process = try WorkerProcess(rig)
        let id = try await rig.send(WorkerRig.body("9990000018"))
        while rig.simulator.requestCount == 0 { try await Task.sleep(for: .milliseconds(20)) }
        process.kill(signal: SIGTERM)
        try await Task.sleep(for: .milliseconds(500))
        #expect(process.isRunning, "the first signal drains: the lookup in flight may finish")
        process.kill(signal: SIGTERM)
        let stopped = ContinuousClock.now
        _ = process.waitForExit()
        #expect(ContinuousClock.now - stopped < .seconds(7), "the second signal did not wait for the 8 s call")
        // The request went back to its queue: the next worker answers it.
        rig.simulator.behaviour = SimulatorBehaviour()
        try await rig.start()
        #expect(try await rig.result(for: id)["outcome"] as? String == "records-found")
        await rig.stop()
    }

    @Test("faults combined as they come: kills, an outage, dropped connections and a SIGTERM during a batch beside triage; no request fails")
    func combinedFaults() async throws {
        let rig = try await WorkerRig(startWorker: false)
        rig.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.milliseconds(50)))
        try await rig.topology.declare(on: rig.epr)
        let audit = try await rig.accessNotifications()
        let logURL = FileManager.default.temporaryDirectory.appending(path: "combined-faults-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        func startWorker() throws -> WorkerProcess {
            try WorkerProcess(rig, extraSettings: "circuitBreaker: { failureThreshold: 5, coolDownMs: 200, maxCoolDownMs: 400 }",
                              log: log)
        }
        let batch = try await Self.publishBatch(rig, count: 1000)
        var worker = try startWorker()

        // Triage beside the batch, five a second, no expiration (an outage must not expire them here).
        let triage = Task {
            var ids: [String] = []
            while !Task.isCancelled {
                ids.append(try await rig.send(WorkerRig.body(Self.numbers[ids.count % Self.numbers.count])))
                try? await Task.sleep(for: .milliseconds(200))
            }
            return ids
        }
        func answered() -> Int { Set(Self.answeredIds(rig)).count }
        func waitForMore(_ count: Int) async throws {
            let target = answered() + count
            _ = try await rig.replies.wait(for: "\(target) results", timeout: .seconds(60)) { _ in answered() >= target }
        }
        var events: [String] = []
        func kill() async throws {
            worker.kill(signal: SIGKILL)
            #expect(worker.waitForExit() == SIGKILL)
            worker = try startWorker()
        }

        try await waitForMore(120)
        try await kill()
        events.append("SIGKILL and restart at \(answered())")
        try await waitForMore(120)
        // The SMSP goes down; a worker is killed during the outage.
        let outageStart = rig.simulator.requestCount
        rig.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.milliseconds(50)), faultRates: [.http503: 1])
        try await Task.sleep(for: .milliseconds(1500))
        try await kill()
        events.append("SIGKILL and restart during the outage at \(answered())")
        try await Task.sleep(for: .milliseconds(2500))
        rig.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.milliseconds(50)))
        let outageRequests = rig.simulator.requestCount - outageStart
        events.append("4 s outage, \(outageRequests) requests refused by the SMSP")
        try await waitForMore(120)
        _ = try BrokerEnvironment.ctl("close_all_connections", "test: the broker closes every connection")
        events.append("broker closed all connections at \(answered())")
        try await waitForMore(120)
        try await kill()
        events.append("SIGKILL and restart at \(answered())")
        try await waitForMore(120)
        worker.kill(signal: SIGTERM)
        #expect(worker.waitForExit() == 0, "SIGTERM: drained and exited 0")
        events.append("SIGTERM at \(answered()), restart")
        worker = try startWorker()
        try await Task.sleep(for: .seconds(1))
        triage.cancel()
        let triageIds = try await triage.value
        let ids = batch + triageIds
        let results = try await rig.results(for: ids, timeout: .seconds(120))

        let outcomes = Dictionary(grouping: results.values, by: { $0["outcome"] as? String ?? "none" }).mapValues(\.count)
        #expect(results.count == ids.count, "lost: \(ids.count - results.count)")
        #expect(outcomes.keys.allSatisfy { ["records-found", "no-record"].contains($0) }, "\(outcomes)")
        // Publishing is at-least-once: a kill between a confirm and its acknowledgement, or a connection
        // lost before a confirm, can deliver a result twice; it is the same result, under one message_id.
        let resultMessages = Dictionary(grouping: rig.replies.all.filter { Set(ids).contains(WorkerRig.json($0)?["requestId"] as? String ?? "") },
                                        by: { WorkerRig.json($0)?["requestId"] as? String ?? "" })
        let answeredTwice = resultMessages.values.filter { $0.count > 1 }
        for repeated in answeredTwice {
            #expect(Set(repeated.map(\.message.properties.messageId)).count == 1, "one result, delivered again")
            #expect(Set(repeated.compactMap { WorkerRig.json($0)?["outcome"] as? String }).count == 1)
        }
        let notifications = audit.all.compactMap(WorkerRig.json)
        let possibleRepeats = Set(notifications.filter { $0["possibleRepeat"] as? Bool == true }
            .compactMap { $0["requestId"] as? String })
        let logText = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        let breakerCycles = logText.components(separatedBy: "circuit open").count - 1
        let loggedRepeats = logText.components(separatedBy: "possible repeat").count - 1
        #expect(breakerCycles >= 5, "the outage lasted at least five breaker cycles")
        #expect(loggedRepeats == possibleRepeats.count, "every possible repeat is logged with its request id")
        print("""
            [figures] combined faults: \(batch.count) batch + \(triageIds.count) triage lookups; \
            \(events.joined(separator: "; ")); breaker opened \(breakerCycles) times. \
            Outcomes \(outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); \
            lost \(ids.count - results.count); results delivered twice (same message_id): \(answeredTwice.count); \
            possible repeats (requests redelivered after a kill, marked and logged): \(possibleRepeats.count)
            """)
        worker.kill(signal: SIGTERM)
        _ = worker.waitForExit()
        try? log.close()
        await rig.stop()
    }
}

/// `cpis worker` (or another `cpis` command) as a separate process, configured for a rig (so it can be
/// killed for real).
final class WorkerProcess: Sendable {
    private let process: Process

    /// `extraSettings`: more YAML sections (e.g. `circuitBreaker: {...}`).
    /// `log`: a file for its standard error (the worker's log), else discarded.
    convenience init(_ rig: WorkerRig, maxInFlight: Int = 8, reservedForTriage: Int = 2, extraSettings: String = "",
                     log: FileHandle? = nil) throws {
        let configuration = rig.configuration
        let topology = rig.topology
        try self.init(command: "worker", settings: """
            broker: { url: "\(BrokerEnvironment.amqpURL)" }
            \(topology.settingsYAML)
            smsp:
              endpoint: \(configuration.smspIdentity.endpoint)
              tls:
                ca: \(try Certificates.path("ca.pem"))
                certificate: \(try Certificates.path("client.pem"))
                key: \(try Certificates.path("client.key"))
            concurrency: { maxInFlight: \(maxInFlight), reservedForTriage: \(reservedForTriage) }
            monitoring: { port: 0 }
            shutdown: { gracePeriodMs: 10000 }
            \(extraSettings)
            """, log: log)
    }

    /// `cpis <command> --config FILE`, FILE holding `settings`.
    init(command: String, settings: String, log: FileHandle? = nil) throws {
        let file = FileManager.default.temporaryDirectory.appending(path: "\(command)-\(UUID().uuidString).yaml")
        try settings.write(to: file, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appending(path: "cpis")
        process.arguments = [command, "--config", file.path]
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "CPIS_AMQP_URL")
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = log ?? FileHandle.nullDevice
        try process.run()
    }

    var processIdentifier: Int32 { process.processIdentifier }

    var isRunning: Bool { process.isRunning }

    func kill(signal: Int32) {
        Foundation.kill(process.processIdentifier, signal)
    }

    /// The exit status, or the signal that ended it.
    func waitForExit() -> Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }
}
