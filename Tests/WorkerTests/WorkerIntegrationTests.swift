import AMQPClient
import TestSupport
import CPISDomain
import Foundation
import SMSPSimulator
import Testing
@testable import Worker

/// The worker driven as an EPR would drive it, against the real broker and the simulator over mutual TLS.
@Suite("worker: lookups end to end", .serialized, .timeLimit(.minutes(3)))
struct WorkerIntegrationTests {
    @Test("a dataset patient's full answer; the notification reaches the audit queue; one notification to the LA")
    func datasetPatient() async throws {
        let rig = try await WorkerRig()
        let audit = DeliveryInbox()
        try await rig.epr.consume(AMQPConsumer(queue: rig.topology.audit, tag: "audit", prefetch: 10), handler: audit.handler)
        let id = try await rig.send(WorkerRig.body("999 000 0018"))
        let result = try await rig.result(for: id)
        #expect(result["outcome"] as? String == "records-found")
        #expect(result["attempts"] as? Int == 1)
        let record = try #require((result["records"] as? [[String: Any]])?.first)
        #expect(record["planType"] as? String == "child-protection-plan")
        #expect((record["localAuthority"] as? [String: Any])?["odsCode"] as? String == "V145")
        let reply = try #require(rig.replies.all.first)
        #expect(reply.message.properties.correlationId == id)
        #expect(reply.message.properties.type == "cpis.lookup.result")
        #expect(reply.message.properties.persistent)

        let notification = try #require(try await audit.wait(count: 1).first)
        #expect(notification.routingKey == "RKE.V145")
        #expect(notification.message.properties.type == "cpis.access.notification")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(notification.message.body)) as? [String: Any])
        #expect(body["requestId"] as? String == id)
        #expect((body["localAuthoritiesNotified"] as? [[String: Any]])?.first?["odsCode"] as? String == "V145")
        #expect(rig.simulator.notifications(nhsNumber: "9990000018").map(\.localAuthority.odsCode) == ["V145"])
        await rig.stop()
    }

    @Test("every trigger number yields the outcome, code and error kind the contract gives")
    func triggers() async throws {
        let rig = try await WorkerRig(maximumAttempts: 2)
        let expected: [(String, String, String, String?)] = [
            ("1111111111", "failed", "SMSP-0001", "upstream-rejected"),
            ("2222222222", "failed", "SMSP-0002", "upstream-unavailable"),
            ("3333333333", "no-record", "SMSP-0003", nil),
            ("4444444444", "failed", "SMSP-0004", "upstream-unavailable"),
            ("5555555555", "failed", "SMSP-0005", "upstream-rejected"),
            ("6666666666", "failed", "SMSP-9999", "upstream-unavailable"),
            ("7777777777", "failed", "CPIS-9999", "upstream-unavailable"),
            ("8888888888", "no-record", "CPIS-0001", nil),
        ]
        var ids: [String: (String, String, String?)] = [:]
        for (number, outcome, code, kind) in expected {
            ids[try await rig.send(WorkerRig.body(number))] = (outcome, code, kind)
        }
        let results = try await rig.results(for: Array(ids.keys))
        for (id, (outcome, code, kind)) in ids {
            let result = try #require(results[id])
            #expect(result["outcome"] as? String == outcome, "\(code)")
            #expect((result["responseCode"] as? [String: Any])?["code"] as? String == code)
            #expect((result["error"] as? [String: Any])?["kind"] as? String == kind, "\(code)")
            if code == "SMSP-0003" { #expect(result["possiblyStale"] as? Bool == true) }
            if kind == "upstream-unavailable" { #expect(result["attempts"] as? Int == 2, "\(code) retried") }
            if kind == "upstream-rejected" { #expect(result["attempts"] as? Int == 1, "\(code) not retried") }
        }
        await rig.stop()
    }

    @Test("direct reply-to works for a caller waiting at triage")
    func directReplyTo() async throws {
        let rig = try await WorkerRig()
        let caller = try await BrokerEnvironment.connect()
        let inbox = DeliveryInbox()
        try await caller.consume(AMQPConsumer(queue: "amq.rabbitmq.reply-to", tag: "direct", prefetch: 0,
                                              acknowledgement: .automatic), handler: inbox.handler)
        try await caller.publish(AMQPMessage(WorkerRig.body("9990000042"), properties: AMQPProperties(
            contentType: "application/json", correlationId: "corr-42", replyTo: "amq.rabbitmq.reply-to",
            messageId: "direct-1")), routingKey: rig.topology.triage)
        let reply = try #require(try await inbox.wait(count: 1).first)
        #expect(reply.message.properties.correlationId == "corr-42")
        #expect(!reply.message.properties.persistent)
        #expect(WorkerRig.json(reply)?["outcome"] as? String == "records-found")
        await caller.close()
        await rig.stop()
    }

    @Test("malformed messages of each kind are answered and parked, and the worker carries on")
    func malformed() async throws {
        let rig = try await WorkerRig()
        let dead = DeliveryInbox()
        try await rig.epr.consume(AMQPConsumer(queue: rig.topology.dead, tag: "dead", prefetch: 50), handler: dead.handler)
        let cases: [(String, String?, String)] = [
            ("not json at all", "application/json", "not valid JSON"),
            (#"{"nhsNumber": 9434765919}"#, "application/json", "must be a string"),
            (#"{"nhsNumber":"9434765919"}"#, "application/json", "requester is missing"),
            (WorkerRig.body("943 476 5918"), "application/json", "check digit"),
            (WorkerRig.body("9990000018"), "text/xml", "content_type must be application/json"),
            (String(repeating: "x", count: 70_000), "application/json", "the limit is"),
        ]
        var ids: [String: String] = [:]
        for (body, contentType, message) in cases {
            ids[try await rig.send(body, contentType: contentType)] = message
        }
        let results = try await rig.results(for: Array(ids.keys))
        for (id, message) in ids {
            let result = try #require(results[id])
            #expect(result["outcome"] as? String == "rejected")
            let error = try #require(result["error"] as? [String: Any])
            #expect(error["kind"] as? String == "invalid-request")
            #expect((error["message"] as? String)?.contains(message) == true, "\(error)")
        }
        let parked = try await dead.wait(count: cases.count)
        #expect(Set(parked.compactMap(\.message.properties.messageId)) == Set(ids.keys))
        #expect(parked.allSatisfy { $0.message.properties.headers["x-cpis-error-kind"] == "invalid-request" })
        #expect(parked.allSatisfy { ($0.message.properties.headers["x-cpis-error"]?.stringValue ?? "").isEmpty == false })
        // Still serving.
        let id = try await rig.send(WorkerRig.body("9990000026"))
        #expect(try await rig.result(for: id)["outcome"] as? String == "records-found")
        #expect(rig.simulator.notifications().count == 1)
        await rig.stop()
    }

    @Test("an expired request is answered expired and never sent to the SMSP")
    func expired() async throws {
        let rig = try await WorkerRig(startWorker: false)
        try await rig.topology.declare(on: rig.epr)
        // Queued while no worker runs: its caller's patience runs out in the queue.
        let waited = try await rig.send(WorkerRig.body("9990000018"), expiration: "100")
        try await Task.sleep(for: .milliseconds(300))
        try await rig.start()
        let result = try await rig.result(for: waited)
        #expect(result["outcome"] as? String == "expired")
        #expect((result["error"] as? [String: Any])?["kind"] as? String == "expired")
        #expect(rig.simulator.notifications().isEmpty)
        await rig.stop()
    }

    @Test("a request from a broker user not allowed to act for its ODS code is rejected/unauthorised")
    func unauthorised() async throws {
        let rig = try await WorkerRig(authorisation: Authorisation(odsCodesByUser: ["guest": ["RAL"]]))
        let refused = try await rig.send(WorkerRig.body("9990000018", ods: "RKE"), userId: "guest")
        let allowed = try await rig.send(WorkerRig.body("9990000018", ods: "RAL"), userId: "guest")
        let anonymous = try await rig.send(WorkerRig.body("9990000018", ods: "RAL"))
        let results = try await rig.results(for: [refused, allowed, anonymous])
        #expect(results[refused]?["outcome"] as? String == "rejected")
        #expect((results[refused]?["error"] as? [String: Any])?["kind"] as? String == "unauthorised")
        #expect((results[anonymous]?["error"] as? [String: Any])?["kind"] as? String == "unauthorised")
        #expect(results[allowed]?["outcome"] as? String == "records-found")
        #expect(rig.simulator.notifications().count == 1)
        await rig.stop()
    }

    @Test("transient failures then recovery: the lookup succeeds after retries")
    func retriesThenSuccess() async throws {
        let rig = try await WorkerRig(maximumAttempts: 4)
        rig.simulator.script(nhsNumber: "9990000018", steps: [.fault(.soapServerFault), .fault(.http503), .answer])
        let id = try await rig.send(WorkerRig.body("9990000018"))
        let result = try await rig.result(for: id)
        #expect(result["outcome"] as? String == "records-found")
        #expect(result["attempts"] as? Int == 3)
        #expect(rig.simulator.notifications().count == 1)
        await rig.stop()
    }

    @Test("failing for good: failed/upstream-unavailable after the configured attempts, within the deadline")
    func failingForGood() async throws {
        let rig = try await WorkerRig(maximumAttempts: 3)
        rig.simulator.behaviour = SimulatorBehaviour(faultTriggers: ["9990000018": .http503])
        let started = ContinuousClock.now
        let id = try await rig.send(WorkerRig.body("9990000018"), expiration: "20000")
        let result = try await rig.result(for: id)
        #expect(result["outcome"] as? String == "failed")
        #expect((result["error"] as? [String: Any])?["kind"] as? String == "upstream-unavailable")
        #expect(result["attempts"] as? Int == 3)
        #expect(ContinuousClock.now - started < .seconds(20))
        await rig.stop()
    }
}

@Suite("worker: circuit breaker", .serialized, .timeLimit(.minutes(2)))
struct CircuitBreakerIntegrationTests {
    @Test("an SMSP that is down is not hammered: requests wait in the broker until a probe finds it back")
    func breakerPausesAndProbes() async throws {
        let rig = try await WorkerRig(maximumAttempts: 10, breakerFailureThreshold: 3)
        rig.simulator.behaviour = SimulatorBehaviour(faultRates: [.http503: 1.0])
        var ids: [String] = []
        for index in 0..<20 {
            ids.append(try await rig.send(WorkerRig.body(index.isMultiple(of: 2) ? "9990000018" : "9990000026")))
        }
        // Open: after a few failures the worker stops asking.
        try await Task.sleep(for: .seconds(1))
        let whileOpen = rig.simulator.requestCount
        try await Task.sleep(for: .milliseconds(300))
        let calls = rig.simulator.requestCount - whileOpen
        #expect(whileOpen < 20, "the worker kept calling a failing SMSP \(whileOpen) times")
        #expect(calls <= 3, "\(calls) calls in 300 ms while the circuit should be open or probing")
        #expect(rig.replies.all.isEmpty, "requests must wait in the broker, not be failed")

        // Back: the next probe succeeds, consuming resumes, everything is answered.
        rig.simulator.behaviour = SimulatorBehaviour()
        let results = try await rig.results(for: ids, timeout: .seconds(60))
        #expect(results.count == 20)
        #expect(results.values.allSatisfy { $0["outcome"] as? String == "records-found" })
        await rig.stop()
    }
}
