import AMQPClient
import TestSupport
import Foundation
import Synchronization
import Testing

/// Against the real broker. Serialized: the recovery tests close every connection on the node.
@Suite("AMQP client against a real RabbitMQ", .serialized, .timeLimit(.minutes(3)))
struct BrokerIntegrationTests {

    @Test("publish with confirm, consume with manual ack", arguments: [false, true])
    func publishAndConsume(overTLS: Bool) async throws {
        let connection = try await BrokerEnvironment.connect(tls: overTLS)
        let queue = BrokerEnvironment.uniqueName("roundtrip")
        try await connection.declare(AMQPQueue.quorum(queue))

        let sent = (0..<20).map { index in
            AMQPMessage("{\"index\":\(index)}", properties: AMQPProperties(
                contentType: "application/json",
                headers: ["x-index": .int(Int64(index)), "x-origin": "test",
                          "x-nested": .table(["flag": true, "list": .array(["a", 1])])],
                correlationId: "corr-\(index)", replyTo: "nowhere", expiration: "60000",
                messageId: "msg-\(index)", type: "test.message", appId: "cpis-tests"))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for message in sent {
                group.addTask { try await connection.publish(message, routingKey: queue) }
            }
            try await group.waitForAll()
        }
        #expect(try await connection.inspect(queue: queue).readyMessages == 20)

        let inbox = DeliveryInbox()
        try await connection.consume(AMQPConsumer(queue: queue, tag: "c1", prefetch: 5), handler: inbox.handler)
        // With prefetch 5 and nothing acked, the broker must stop at 5.
        try await inbox.wait(count: 5)
        try await Task.sleep(for: .milliseconds(300))
        #expect(inbox.all.count == 5)

        var received: [AMQPDelivery] = []
        while received.count < 20 {
            let batch = try await inbox.wait(count: received.count + 1).dropFirst(received.count)
            for delivery in batch { try await connection.ack(delivery) }
            received.append(contentsOf: batch)
        }
        let byId = Dictionary(uniqueKeysWithValues: received.map { ($0.message.properties.messageId ?? "", $0) })
        for message in sent {
            let delivery = try #require(byId[message.properties.messageId ?? ""])
            #expect(delivery.message.body == message.body)
            #expect(delivery.message.properties == message.properties)
            #expect(delivery.routingKey == queue)
            #expect(!delivery.redelivered)
        }
        await connection.close()
        #expect(try await BrokerEnvironment.messagesLeft(in: queue) == 0)
    }

    @Test("a broker certificate from an untrusted CA is refused")
    func untrustedServerCertificate() async throws {
        let configuration = try AMQPConfiguration(
            url: BrokerEnvironment.amqpsURL, tls: BrokerEnvironment.tls(ca: "rogue-ca.pem"))
        let error = await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(configuration, logger: BrokerEnvironment.logger)
        }
        #expect(error?.code == .tlsFailed)
    }

    @Test("with a cluster's nodes listed, a node that cannot be reached is passed over for the next")
    func failsOverToTheNextNode() async throws {
        let working = try BrokerEnvironment.configuration()
        var configuration = working
        configuration.host = "127.0.0.1"
        configuration.port = 1   // nothing listens there
        configuration.otherNodes = [AMQPConfiguration.Node(host: working.host, port: working.port)]
        let connection = try await AMQPConnection.connect(configuration, logger: BrokerEnvironment.logger)
        #expect(connection.isConnected)
        await connection.close()

        configuration.otherNodes = [AMQPConfiguration.Node(host: "127.0.0.1", port: 2)]
        let error = await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(configuration, logger: BrokerEnvironment.logger)
        }
        #expect(error?.message.contains("no node of the cluster could be reached") == true, "\(error?.message ?? "")")
    }

    @Test("a broker certificate that does not name the host is refused")
    func hostnameMismatch() async throws {
        // The development server certificate names localhost and 127.0.0.1, not 127.0.0.2.
        var configuration = try BrokerEnvironment.configuration(tls: true)
        configuration.host = "127.0.0.2"
        let error = await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(configuration, logger: BrokerEnvironment.logger)
        }
        #expect(error?.code == .tlsFailed || error?.code == .connectionFailed)
    }

    @Test("the broker refuses a TLS client without a certificate (mutual TLS)")
    func clientCertificateRequired() async throws {
        let configuration = try AMQPConfiguration(
            url: BrokerEnvironment.amqpsURL, tls: BrokerEnvironment.tls(clientCertificate: false))
        await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(configuration, logger: BrokerEnvironment.logger)
        }
    }

    @Test("wrong credentials are reported as such")
    func wrongPassword() async throws {
        var configuration = try BrokerEnvironment.configuration()
        configuration.password = "not-the-password"
        let error = await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(configuration, logger: BrokerEnvironment.logger)
        }
        #expect(error?.code == .authenticationFailed)
        #expect(error?.description.contains("not-the-password") == false)
    }

    @Test("nack and reject without requeue dead-letter the message")
    func deadLettering() async throws {
        let connection = try await BrokerEnvironment.connect()
        let deadExchange = BrokerEnvironment.uniqueName("dlx")
        let deadQueue = BrokerEnvironment.uniqueName("dead")
        let queue = BrokerEnvironment.uniqueName("work")
        try await connection.declare(AMQPExchange(name: deadExchange, kind: .fanout))
        try await connection.declare(AMQPQueue.quorum(deadQueue))
        try await connection.bind(AMQPBinding(queue: deadQueue, exchange: deadExchange, routingKey: ""))
        try await connection.declare(AMQPQueue.quorum(queue, arguments: [
            "x-dead-letter-exchange": .string(deadExchange), "x-delivery-limit": 5]))

        try await connection.publish(AMQPMessage("nacked", properties: .init(messageId: "n")), routingKey: queue)
        try await connection.publish(AMQPMessage("rejected", properties: .init(messageId: "r")), routingKey: queue)
        let work = DeliveryInbox()
        try await connection.consume(AMQPConsumer(queue: queue, tag: "work", prefetch: 10), handler: work.handler)
        for delivery in try await work.wait(count: 2) {
            if delivery.message.bodyText == "nacked" {
                try await connection.nack(delivery, requeue: false)
            } else {
                try await connection.reject(delivery, requeue: false)
            }
        }

        let dead = DeliveryInbox()
        try await connection.consume(AMQPConsumer(queue: deadQueue, tag: "dead", prefetch: 10), handler: dead.handler)
        let parked = try await dead.wait(count: 2)
        #expect(Set(parked.map(\.message.bodyText)) == ["nacked", "rejected"])
        for delivery in parked {
            guard case .array(let deaths) = delivery.message.properties.headers["x-death"],
                  case .table(let death) = deaths.first
            else {
                Issue.record("no x-death header on \(delivery.message.bodyText)")
                continue
            }
            #expect(death["reason"] == "rejected")
            #expect(death["queue"]?.stringValue == queue)
            try await connection.ack(delivery)
        }
        for name in [queue, deadQueue] { try await connection.deleteQueue(name) }
        await connection.close()
    }

    @Test("an unroutable mandatory publish is reported; a routable one beside it is not")
    func unroutableMandatory() async throws {
        let returned = Mutex<[AMQPReturnedMessage]>([])
        let connection = try await BrokerEnvironment.connect { message in returned.withLock { $0.append(message) } }
        let queue = BrokerEnvironment.uniqueName("routable")
        try await connection.declare(AMQPQueue.quorum(queue))

        async let routable: Void = connection.publish(
            AMQPMessage("kept", properties: .init(messageId: "kept")), routingKey: queue, mandatory: true)
        let error = await #expect(throws: AMQPError.self) {
            try await connection.publish(AMQPMessage("lost", properties: .init(messageId: "lost")),
                                         exchange: "amq.direct", routingKey: "no-such-binding", mandatory: true)
        }
        try await routable
        #expect(error?.code == .unroutable)
        #expect(error?.replyCode == 312)
        let returnedMessages = returned.withLock { $0 }
        #expect(returnedMessages.map(\.message.bodyText) == ["lost"])
        #expect(returnedMessages.first?.routingKey == "no-such-binding")
        await connection.close()
        #expect(try await BrokerEnvironment.messagesLeft(in: queue) == 1)
    }

    @Test("a channel closed by the broker is a clear error, and the connection carries on")
    func channelErrors() async throws {
        let connection = try await BrokerEnvironment.connect()
        let queue = BrokerEnvironment.uniqueName("clash")
        try await connection.declare(AMQPQueue.quorum(queue))
        let inbox = DeliveryInbox()
        try await connection.consume(AMQPConsumer(queue: queue, tag: "keeps-going", prefetch: 10),
                                     handler: inbox.handler)

        // Same name, different type: PRECONDITION_FAILED closes the channel.
        let clash = await #expect(throws: AMQPError.self) {
            try await connection.declare(AMQPQueue(name: queue, durable: true, arguments: ["x-queue-type": "classic"]))
        }
        #expect(clash?.code == .channelClosedByBroker)
        #expect(clash?.replyCode == 406)
        #expect(clash?.message.contains(queue) == true)

        // Publishing to an exchange that does not exist: NOT_FOUND closes the channel.
        let missing = await #expect(throws: AMQPError.self) {
            try await connection.publish(AMQPMessage("x"), exchange: "no.such.exchange", routingKey: "x")
        }
        #expect(missing?.code == .channelClosedByBroker)
        #expect(missing?.replyCode == 404)

        // The consumer was resumed on the new channel and publishing works.
        try await connection.publish(AMQPMessage("after"), routingKey: queue)
        let delivered = try await inbox.wait(count: 1)
        #expect(delivered.first?.message.bodyText == "after")
        try await connection.ack(try #require(delivered.first))
        #expect(connection.recoveryCount == 2)
        try await connection.deleteQueue(queue)
        await connection.close()
    }
}
