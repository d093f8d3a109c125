import AMQPClient
import TestSupport
import Foundation
import Testing
@testable import Worker

@Suite("the contract's topology on a real broker", .serialized, .timeLimit(.minutes(2)))
struct TopologyTests {
    /// A topology with names of its own, so tests never meet each other or a running worker.
    static func uniqueTopology() -> WorkerTopology {
        var topology = WorkerTopology()
        let prefix = BrokerEnvironment.uniqueName("topology")
        topology.triage = "\(prefix).triage"
        topology.batch = "\(prefix).batch"
        topology.dead = "\(prefix).dead"
        topology.unanswered = "\(prefix).unanswered"
        topology.deadLetterExchange = "\(prefix).dead-letter"
        topology.results = "\(prefix).results"
        topology.retryPrefix = "\(prefix).retry"
        topology.accessExchange = "\(prefix).access"
        topology.audit = "\(prefix).audit"
        topology.retryDelays = [.milliseconds(300), .seconds(1)]
        return topology
    }

    @Test("declaring twice is harmless; expiry, rejection and retry route as the contract says")
    func routing() async throws {
        let topology = Self.uniqueTopology()
        let connection = try await BrokerEnvironment.connect()
        try await topology.declare(on: connection)
        try await topology.declare(on: connection)
        #expect(topology.retryName(step: 0).hasSuffix(".retry.300ms"))
        #expect(topology.retryName(step: 1).hasSuffix(".retry.1s"))
        #expect(topology.retryName(step: 7).hasSuffix(".retry.1s"))

        let unanswered = DeliveryInbox(), dead = DeliveryInbox(), triage = DeliveryInbox()
        try await connection.consume(AMQPConsumer(queue: topology.unanswered, tag: "unanswered", prefetch: 10),
                                     handler: unanswered.handler)
        try await connection.consume(AMQPConsumer(queue: topology.dead, tag: "dead", prefetch: 10), handler: dead.handler)

        // A request whose caller's patience runs out in the queue is parked, and handed to the worker to answer.
        try await connection.publish(AMQPMessage("late", properties: .init(expiration: "50", messageId: "late")),
                                     routingKey: topology.triage)
        let late = try await unanswered.wait(count: 1)
        #expect(late.first?.message.properties.messageId == "late")
        #expect(late.first?.message.properties.headers["x-first-death-reason"] == "expired")
        #expect(try await dead.wait(count: 1).first?.message.properties.messageId == "late")

        // So is a rejected one.
        try await connection.consume(AMQPConsumer(queue: topology.triage, tag: "triage", prefetch: 10), handler: triage.handler)
        try await connection.publish(AMQPMessage("bad", properties: .init(messageId: "bad")), routingKey: topology.triage)
        let bad = try #require(try await triage.wait(count: 1).first)
        try await connection.reject(bad, requeue: false)
        #expect(try await dead.wait(count: 2).last?.message.properties.messageId == "bad")
        #expect(try await unanswered.wait(count: 2).last?.message.properties.headers["x-first-death-reason"] == "rejected")

        // A retry waits its delay, then comes back to the queue it came from.
        let sent = ContinuousClock.now
        try await connection.publish(AMQPMessage("again", properties: .init(messageId: "again")),
                                     exchange: topology.retryName(step: 0), routingKey: topology.triage, mandatory: true)
        let back = try await triage.wait(count: 2)
        #expect(back.last?.message.properties.messageId == "again")
        #expect(ContinuousClock.now - sent >= .milliseconds(250))
        try await connection.ack(try #require(back.last))
        await connection.close()
    }
}

@Suite("the topology's definitions file", .serialized, .timeLimit(.minutes(1)))
struct TopologyDefinitionsTests {
    static let file = WorkerRig.packageRoot.appending(path: "Deploy/rabbitmq-definitions.json")

    @Test("Deploy/rabbitmq-definitions.json is what the worker declares, and RabbitMQ imports it")
    func definitionsMatchAndImport() async throws {
        let committed = try String(contentsOf: Self.file, encoding: .utf8)
        #expect(committed == WorkerTopology().definitionsJSON(),
                "regenerate it: .build/debug/cpis topology > Deploy/rabbitmq-definitions.json")

        // The broker's own user must be able to read it.
        let copy = FileManager.default.temporaryDirectory.appending(path: "definitions-\(UUID().uuidString).json")
        try committed.write(to: copy, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: copy.path)
        try BrokerEnvironment.ctl("import_definitions", copy.path)
        // Declaring the same names afterwards succeeds only if every argument matches.
        let connection = try await BrokerEnvironment.connect()
        try await WorkerTopology().declare(on: connection)
        #expect(connection.recoveryCount == 0)
        await connection.close()
    }
}
