import AMQPClient
import CPISDomain
import Foundation
import HTTPTransport
import SMSPSimulator
import TestSupport
import Testing
@testable import Worker

/// The worker's promises that are about safety rather than answers: the concurrency bound, answers
/// about the right child only, deadlines, dead-letter reasons and possible repeats.
@Suite("worker: bound, right patient, deadlines, repeats", .serialized, .timeLimit(.minutes(3)))
struct WorkerSafetyTests {
    /// Publishes before the worker starts, so the work is all queued when it begins.
    static func queue(_ rig: WorkerRig, batch: Int, triage: Int) async throws -> [String] {
        try await rig.topology.declare(on: rig.epr)
        var ids: [String] = []
        for index in 0..<(batch + triage) {
            ids.append(try await rig.send(WorkerRig.body("9434765919"), lane: index < batch ? .batch : .triage))
        }
        return ids
    }

    @Test("the bound is real: with more work queued than slots, exactly maxInFlight calls at once; batch alone never takes the triage reserve")
    func boundHolds() async throws {
        let rig = try await WorkerRig(maximumInFlight: 8, reservedForTriage: 2, startWorker: false)
        rig.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.milliseconds(300)))
        let batchOnly = try await Self.queue(rig, batch: 30, triage: 0)
        try await rig.start()
        _ = try await rig.results(for: batchOnly)
        #expect(rig.simulator.mostInFlight == 6, "batch alone: the 8 slots less the 2 kept for triage")
        await rig.worker?.shutdown()

        rig.simulator.resetMostInFlight()
        let mixed = try await Self.queue(rig, batch: 30, triage: 20)
        try await rig.start()
        _ = try await rig.results(for: mixed)
        #expect(rig.simulator.mostInFlight == 8, "triage and batch together fill every slot, and no more")
        print("[figures] most SMSP calls in flight: batch alone \(6), batch and triage \(rig.simulator.mostInFlight), of 8 slots")
        await rig.stop()
    }

    @Test("a started worker has a connection per slot open before its first lookup, so none waits for a handshake")
    func connectionsOpenedInAdvance() async throws {
        let rig = try await WorkerRig(maximumInFlight: 8, reservedForTriage: 2)
        #expect(rig.server.acceptedConnections == 8, "one connection a slot, opened at start")
        let ids = try await Self.queue(rig, batch: 6, triage: 2)
        _ = try await rig.results(for: ids)
        #expect(rig.server.acceptedConnections == 8, "the lookups used the connections already open")
        await rig.stop()
    }

    @Test("an answer about another patient is never delivered", arguments: [
        ("9990000018", SimulatorFault.crossedRecord, "a different patient"),
        ("9990000018", SimulatorFault.crossedUnbornRecord, "a different patient"),
        ("9990000034", SimulatorFault.crossedRecord, "a different patient"),
        ("9990000018", SimulatorFault.wrongRelatesTo, "wsa:RelatesTo"),
    ])
    func wrongPatient(asked: String, fault: SimulatorFault, says: String) async throws {
        let rig = try await WorkerRig()
        let audit = DeliveryInbox()
        try await rig.epr.consume(AMQPConsumer(queue: rig.topology.audit, tag: "audit", prefetch: 10), handler: audit.handler)
        rig.simulator.script(nhsNumber: asked, steps: [.fault(fault)])
        let result = try await rig.result(for: try await rig.send(WorkerRig.body(asked)))
        #expect(result["outcome"] as? String == "failed")
        #expect(result["nhsNumber"] as? String == asked)
        #expect((result["records"] as? [Any])?.isEmpty == true, "nothing of the crossed answer reaches the result")
        #expect((result["accessHistory"] as? [Any])?.isEmpty == true)
        let error = try #require(result["error"] as? [String: Any])
        #expect(error["kind"] as? String == "wrong-patient")
        let message = try #require(error["message"] as? String)
        #expect(message.contains(says), "\(message)")
        #expect(!message.contains(asked), "NHS numbers are masked in the message")
        // The next lookup for the same child (the script is spent) is answered normally.
        let next = try await rig.result(for: try await rig.send(WorkerRig.body(asked)))
        #expect(next["outcome"] as? String == "records-found")
        _ = try await audit.wait(count: 1)
        #expect(audit.all.count == 1, "only the good answer has an access notification")
        await rig.stop()
    }

    @Test("the mismatch check itself: the child's own number, the mother's for an unborn child, RelatesTo")
    func mismatchRules() throws {
        let asked = try NHSNumber("9990000018")
        let authority = LocalAuthority(odsCode: "V145", name: "Islington", officeHoursPhone: nil, emergencyDutyPhone: nil)
        func response(_ subject: PlanSubject, relatesTo: String? = "uuid:A") -> SMSPResponse {
            SMSPResponse(relatesTo: relatesTo, trackingID: nil, answer: CPISAnswer(
                responseCode: ResponseCode(code: "SMSP-0000", displayName: "Success"),
                plans: [ProtectionPlan(type: .childProtectionPlan, start: Date(), end: nil, subject: subject,
                                       localAuthority: authority)]))
        }
        let mother = { (number: String?) in
            PlanSubject.unbornChild(mother: .init(nhsNumber: number, name: nil, birthDate: nil))
        }
        #expect(SMSPClient.mismatch(response(.child(nhsNumber: "999 000 0018", name: nil, birthDate: nil)),
                                    asked: "uuid:A", about: asked) == nil)
        #expect(SMSPClient.mismatch(response(mother("9990000018")), asked: "uuid:A", about: asked) == nil)
        #expect(SMSPClient.mismatch(response(.child(nhsNumber: "9990000026", name: nil, birthDate: nil)),
                                    asked: "uuid:A", about: asked) != nil)
        #expect(SMSPClient.mismatch(response(.child(nhsNumber: nil, name: nil, birthDate: nil)),
                                    asked: "uuid:A", about: asked) != nil, "a record naming no child is not ours either")
        #expect(SMSPClient.mismatch(response(mother("9990000026")), asked: "uuid:A", about: asked) != nil)
        #expect(SMSPClient.mismatch(response(mother("9990000018"), relatesTo: "uuid:B"), asked: "uuid:A", about: asked) != nil)
        #expect(SMSPClient.mismatch(response(mother("9990000018"), relatesTo: nil), asked: "uuid:A", about: asked) == nil,
                "RelatesTo is checked where the SMSP sends it")
    }

    @Test("a deadline that has passed, or leaves less than the minimum call time, is never sent")
    func noFloor() throws {
        // A client aimed at a port nobody listens on: had it tried, the outcome would be 'unavailable'.
        let client = try SMSPClient(http: try HTTPClient(tls: nil), endpoint: URL(string: "http://127.0.0.1:9/smsp")!,
                                builder: SMSPRequestBuilder(identity: SMSPIdentity(endpoint: "http://127.0.0.1:9/smsp",
                                                                                   username: "test")),
                                validator: nil)
        let request = try LookupRequest(json: Array(WorkerRig.body("9434765919").utf8))
        // Past the deadline by 5 s, 1 ms, or just at it; then 1, 100 and 199 ms before it, under the 200 ms floor.
        for left in [-5, -0.001, 0, 0.001, 0.1, 0.199] {
            guard case .expiredBeforeSend = client.call(request, deadline: Date().addingTimeInterval(left),
                                                         timeout: .seconds(1), minimumCallTime: .milliseconds(200)) else {
                Issue.record("a request with \(left) s left was not refused before sending")
                continue
            }
        }
        guard case .unavailable = client.call(request, deadline: Date().addingTimeInterval(5), timeout: .seconds(1),
                                              minimumCallTime: .milliseconds(200)) else {
            Issue.record("a request with time enough was not sent")
            return
        }
    }

    @Test("a lookup with less than the minimum call time left is answered expired and never reaches the SMSP (expiration \"1\", with and without timestamp)")
    func noCallWithoutTheMinimumCallTime() async throws {
        let rig = try await WorkerRig()
        // Repeated, as the race it closes was won 3 times in 4: with 1 ms of patience, a lookup used to
        // slip through the deadline check taken just before the send.
        var ids: [String] = []
        for round in 0..<8 {
            let id = UUID().uuidString
            try await rig.epr.publish(AMQPMessage(WorkerRig.body("9990000018"), properties: AMQPProperties(
                contentType: "application/json", replyTo: rig.replyQueue, expiration: "1", messageId: id,
                timestamp: round.isMultiple(of: 2) ? Date() : nil)), routingKey: rig.topology.triage)
            ids.append(id)
        }
        // Patience under the worker's floor (300 ms by default for an SMSP) is the same: nothing sent.
        ids.append(try await rig.send(WorkerRig.body("9990000018"), expiration: "250"))
        let results = try await rig.results(for: ids)
        for id in ids {
            #expect(results[id]?["outcome"] as? String == "expired", "\(results[id] ?? [:])")
            #expect((results[id]?["error"] as? [String: Any])?["kind"] as? String == "expired")
        }
        #expect(rig.simulator.requestCount == 0, "a call that could not come back in time reached the SMSP")
        #expect(rig.simulator.notifications(nhsNumber: "9990000018").isEmpty, "a local authority was told of an unseen access")
        // With time enough it is asked, as ever.
        let answered = try await rig.result(for: try await rig.send(WorkerRig.body("9990000018"), expiration: "5000"))
        #expect(answered["outcome"] as? String == "records-found")
        await rig.stop()
    }

    @Test("expired requests are answered expired and never sent: counted from the AMQP timestamp, or while waiting in the worker")
    func expiredNeverSent() async throws {
        let rig = try await WorkerRig(maximumInFlight: 2, reservedForTriage: 1)
        // With a timestamp: published "10 s ago" with 5 s of patience, so it is out of time on arrival
        // although the broker (which counts from its own receipt) has not expired it.
        let stamped = UUID().uuidString
        try await rig.epr.publish(AMQPMessage(WorkerRig.body("9990000026"), properties: AMQPProperties(
            contentType: "application/json", replyTo: rig.replyQueue, expiration: "5000", messageId: stamped,
            timestamp: Date().addingTimeInterval(-10))), routingKey: rig.topology.triage)
        let stampedResult = try await rig.result(for: stamped)
        #expect(stampedResult["outcome"] as? String == "expired")
        #expect(rig.simulator.requestCount == 0)

        // Without one: both slots busy with slow calls, so a triage lookup with 300 ms of patience
        // waits in the worker (not in the queue, where the broker would expire it) past its deadline.
        rig.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.seconds(1)))
        let slow = [try await rig.send(WorkerRig.body("9434765919")), try await rig.send(WorkerRig.body("9434765919"))]
        try await Task.sleep(for: .milliseconds(200))
        let impatient = try await rig.send(WorkerRig.body("9990000042"), expiration: "300")
        let results = try await rig.results(for: slow + [impatient])
        #expect(results[impatient]?["outcome"] as? String == "expired")
        #expect(rig.simulator.requestCount == 2, "only the two slow lookups reached the SMSP")
        #expect(rig.simulator.notifications(nhsNumber: "9990000042").isEmpty)
        await rig.stop()
    }

    @Test("the latest death reason: x-death's first entry, not x-first-death-reason")
    func latestDeathReason() {
        let headers: AMQPTable = [
            "x-first-death-reason": "expired",
            "x-death": .array([.table(["reason": "delivery_limit", "queue": "cpis.lookup.triage"]),
                               .table(["reason": "expired", "queue": "cpis.lookup.retry.1s"])]),
        ]
        #expect(LookupWorker.latestDeathReason(headers) == "delivery_limit")
        #expect(LookupWorker.latestDeathReason(["x-first-death-reason": "expired"]) == "expired")
        #expect(LookupWorker.latestDeathReason([:]) == nil)
    }

    @Test("a retried request that then goes over the delivery limit is answered failed, not expired")
    func deliveryLimitAfterRetry() async throws {
        let rig = try await WorkerRig(startWorker: false)
        try await rig.topology.declare(on: rig.epr)
        // A retry: it dies of the retry queue's TTL and lands in triage with an 'expired' x-death entry.
        let id = UUID().uuidString
        try await rig.epr.publish(AMQPMessage(WorkerRig.body("9990000018"), properties: AMQPProperties(
            contentType: "application/json", headers: [LookupIntake.attemptsHeader: 1], replyTo: rig.replyQueue,
            expiration: "50", messageId: id)),
            exchange: rig.topology.retryName(step: 0), routingKey: rig.topology.triage)
        // A holder that keeps handing it back, as a request that crashes every worker would be.
        try await rig.handBackPastDeliveryLimit()
        try await rig.start()
        let result = try await rig.result(for: id)
        #expect(result["outcome"] as? String == "failed")
        #expect(((result["error"] as? [String: Any])?["message"] as? String)?.contains("handed to workers") == true)
        #expect(rig.simulator.requestCount == 0)
        await rig.stop()
    }

    @Test("a request redelivered after its holder was killed mid-call is marked possibleRepeat, and logged")
    func possibleRepeat() async throws {
        let rig = try await WorkerRig(startWorker: false)
        try await rig.topology.declare(on: rig.epr)
        let audit = DeliveryInbox()
        try await rig.epr.consume(AMQPConsumer(queue: rig.topology.audit, tag: "audit", prefetch: 10), handler: audit.handler)
        rig.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.seconds(2)))
        let first = try WorkerProcess(rig)
        let killed = try await rig.send(WorkerRig.body("9990000018"))
        while rig.simulator.requestCount == 0 { try await Task.sleep(for: .milliseconds(20)) }
        first.kill(signal: SIGKILL)
        #expect(first.waitForExit() == SIGKILL)
        rig.simulator.behaviour = SimulatorBehaviour()
        try await rig.start()
        let fresh = try await rig.send(WorkerRig.body("9990000026"))
        _ = try await rig.results(for: [killed, fresh])
        let notifications = try await audit.wait(count: 2).compactMap(WorkerRig.json)
        let byRequest = Dictionary(notifications.map { ($0["requestId"] as? String ?? "", $0) }) { first, _ in first }
        #expect(byRequest[killed]?["possibleRepeat"] as? Bool == true)
        #expect(byRequest[fresh]?["possibleRepeat"] as? Bool == false)
        // CP-IS really was asked twice for the killed one: that is what the mark is for.
        #expect(rig.simulator.notifications(nhsNumber: "9990000018").count == 2)
        await rig.stop()
    }
}

/// The worker's broker user must be allowed to relay EPRs' requests (their user_id) when
/// authorisation is on: checked at start, not discovered at the first retry.
@Suite("worker: the broker user's rights", .serialized, .timeLimit(.minutes(2)))
struct WorkerBrokerUserTests {
    @Test("with authorisation on, a worker user without RabbitMQ's impersonator tag is refused at start, saying what to do")
    func impersonatorNeeded() async throws {
        let rig = try await WorkerRig(startWorker: false)
        var configuration = rig.configuration
        configuration.worker.authorisation = Authorisation(odsCodesByUser: ["epr-whittington": ["RKE"]])
        for (name, tag) in [("cpis-worker-untagged", nil), ("cpis-worker-tagged", "impersonator")] as [(String, String?)] {
            configuration.broker.username = name
            configuration.broker.password = try WorkerRig.brokerUser(name, tag: tag)
            if tag == nil {
                let error = await #expect(throws: AMQPError.self) {
                    _ = try await LookupWorker.start(configuration, logger: WorkerRig.quietLogger)
                }
                #expect(error?.message.contains("rabbitmqctl set_user_tags cpis-worker-untagged impersonator") == true,
                        "\(error?.message ?? "")")
            } else {
                let worker = try await LookupWorker.start(configuration, logger: WorkerRig.quietLogger)
                await worker.shutdown()
            }
            try BrokerEnvironment.ctl("delete_user", name)
        }
        await rig.stop()
    }
}
