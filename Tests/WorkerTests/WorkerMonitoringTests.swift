import AMQPClient
import Foundation
import HTTPTransport
import SMSPSimulator
import TestSupport
import Testing
@testable import Worker

/// What operations see of a running `cpis worker` process: health checks, and metrics that agree
/// with the results the EPR received.
@Suite("worker: metrics and health", .serialized, .timeLimit(.minutes(3)))
struct WorkerMonitoringTests {
    @Test("/health/live and /health/ready answer; /metrics counts what the EPR received, by lane and outcome")
    func metricsMatchResults() async throws {
        let rig = try await WorkerRig(startWorker: false)
        rig.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.milliseconds(20)))
        try await rig.topology.declare(on: rig.epr)
        let logURL = FileManager.default.temporaryDirectory.appending(path: "monitoring-\(UUID().uuidString).log")
        #expect(FileManager.default.createFile(atPath: logURL.path, contents: nil))
        let process = try WorkerProcess(rig, maxInFlight: 8, reservedForTriage: 2, log: try FileHandle(forWritingTo: logURL))
        defer { try? FileManager.default.removeItem(at: logURL) }

        let monitoring = try await Self.monitoringURL(fromLog: logURL)
        #expect(try Self.get(monitoring, "/health/live").status == 200)
        try await Self.eventually("the worker is ready") { try Self.get(monitoring, "/health/ready").status == 200 }
        #expect(try Self.get(monitoring, "/nowhere").status == 404)

        var ids: [String] = []
        for _ in 0..<5 { ids.append(try await rig.send(WorkerRig.body("9990000018"))) }
        for _ in 0..<3 { ids.append(try await rig.send(WorkerRig.body("9434765919"))) }
        for _ in 0..<4 { ids.append(try await rig.send(WorkerRig.body("9434765919"), lane: .batch)) }
        for _ in 0..<2 { ids.append(try await rig.send(WorkerRig.body("123"))) }
        let results = try await rig.results(for: ids)
        let outcomes = results.values.compactMap { $0["outcome"] as? String }
        #expect(outcomes.filter { $0 == "records-found" }.count == 5)
        #expect(outcomes.filter { $0 == "no-record" }.count == 7)
        #expect(outcomes.filter { $0 == "rejected" }.count == 2)

        let expected: [String: Double] = [
            #"cpis_lookups_total{lane="triage",outcome="records-found"}"#: 5,
            #"cpis_lookups_total{lane="triage",outcome="no-record"}"#: 3,
            #"cpis_lookups_total{lane="triage",outcome="rejected"}"#: 2,
            #"cpis_lookups_total{lane="batch",outcome="no-record"}"#: 4,
            #"cpis_lookups_total{lane="batch",outcome="failed"}"#: 0,
            #"cpis_lookup_failures_total{lane="triage",kind="invalid-request"}"#: 2,
            #"cpis_dead_letters_total{lane="triage",kind="invalid-request"}"#: 2,
            #"cpis_lookup_duration_seconds_count{lane="triage"}"#: 10,
            #"cpis_lookup_duration_seconds_count{lane="batch"}"#: 4,
            #"cpis_smsp_call_duration_seconds_count{result="answered"}"#: 12,
            #"cpis_slots{lane="triage"}"#: 8,
            #"cpis_slots{lane="batch"}"#: 6,
            #"cpis_slots_in_use{lane="triage"}"#: 0,
            #"cpis_circuit_breaker_state"#: 0,
            #"cpis_possible_repeats_total"#: 0,
            #"cpis_retries_total{lane="triage"}"#: 0,
            #"cpis_amqp_reconnects_total"#: 0,
            #"cpis_unanswered_total{outcome="expired"}"#: 0,
        ]
        var scraped: [String: Double] = [:]
        // Counted when the broker confirms a result, which may be just after the EPR has it.
        try await Self.eventually("the metrics agree with the results") {
            scraped = try Self.samples(Self.get(monitoring, "/metrics").body)
            return expected.allSatisfy { scraped[$0.key] == $0.value }
        }
        for (series, value) in expected {
            #expect(scraped[series] == value, "\(series)")
        }
        process.kill(signal: SIGTERM)
        #expect(process.waitForExit() == 0)
        await rig.stop()
    }

    /// The address the worker's log gives for its monitoring endpoint (it binds a free port).
    static func monitoringURL(fromLog log: URL) async throws -> URL {
        var found: URL?
        try await eventually("the worker logs its monitoring address") {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            guard let range = text.range(of: #"monitoring on http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) else {
                return false
            }
            found = URL(string: String(text[range].dropFirst("monitoring on ".count)))
            return found != nil
        }
        return try #require(found)
    }

    static func get(_ base: URL, _ path: String) throws -> HTTPResponse {
        try HTTPClient(tls: nil).execute(HTTPRequest(target: path), url: base, timeout: .seconds(5))
    }

    /// `name{labels}` to value, for every sample in a Prometheus text exposition.
    static func samples(_ body: [UInt8]) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in String(decoding: body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    static func eventually(_ what: String, within timeout: Duration = .seconds(20),
                           _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting until \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
