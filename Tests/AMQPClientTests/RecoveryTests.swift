import AMQPClient
import TestSupport
import Foundation
import Synchronization
import Testing

extension BrokerIntegrationTests {
    @Suite("recovery and heartbeats")
    struct Recovery {
        @Test("after the broker drops every connection, the client reconnects and nothing is lost")
        func reconnectsAfterConnectionsDropped() async throws {
            let connection = try await BrokerEnvironment.connect()
            let queue = BrokerEnvironment.uniqueName("recovery")
            try await connection.declare(AMQPQueue.quorum(queue))

            // Ack each delivery as it arrives; an ack for a lost channel fails (the broker redelivers).
            let received = Mutex<Set<String>>([])
            try await connection.consume(AMQPConsumer(queue: queue, tag: "survivor", prefetch: 20)) { delivery in
                connection.ack(delivery) { result in
                    if case .success = result {
                        received.withLock { _ = $0.insert(delivery.message.properties.messageId ?? "") }
                    }
                }
            }

            let total = 300
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<total {
                    group.addTask {
                        try await connection.publish(
                            AMQPMessage("message \(index)", properties: .init(messageId: "m\(index)")),
                            routingKey: queue)
                    }
                    if index == total / 3 {
                        try await Task.sleep(for: .milliseconds(50))
                        try BrokerEnvironment.ctl("close_all_connections", "test: broker dropped connections")
                    }
                }
                try await group.waitForAll()
            }

            let deadline = ContinuousClock.now + .seconds(30)
            while received.withLock({ $0.count }) < total, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let missing = Set((0..<total).map { "m\($0)" }).subtracting(received.withLock { $0 })
            #expect(missing.isEmpty, "lost: \(missing.sorted().prefix(10))")
            #expect(connection.recoveryCount >= 1)
            #expect(connection.isConnected)
            await connection.close()
            #expect(try await BrokerEnvironment.messagesLeft(in: queue) == 0)
        }

        @Test("heartbeats keep an idle consumer connected past twice the interval")
        func heartbeatsKeepIdleConnectionAlive() async throws {
            let connection = try await BrokerEnvironment.connect(heartbeat: .seconds(1))
            let queue = BrokerEnvironment.uniqueName("idle")
            try await connection.declare(AMQPQueue.quorum(queue))
            let inbox = DeliveryInbox()
            try await connection.consume(AMQPConsumer(queue: queue, tag: "idle", prefetch: 1), handler: inbox.handler)

            // The broker agreed to a 1 s heartbeat: without heartbeats from us it would close us after ~2 s.
            let timeouts = try BrokerEnvironment.ctl("-q", "list_connections", "client_properties", "timeout",
                                                     "--no-table-headers")
            #expect(timeouts.split(separator: "\n").contains { $0.hasSuffix("\t1") })

            try await Task.sleep(for: .seconds(3.5))
            #expect(connection.isConnected)
            #expect(connection.recoveryCount == 0)

            let publisher = try await BrokerEnvironment.connect()
            try await publisher.publish(AMQPMessage("wake up"), routingKey: queue)
            let delivered = try await inbox.wait(count: 1)
            try await connection.ack(try #require(delivered.first))
            #expect(connection.recoveryCount == 0)
            try await connection.deleteQueue(queue)
            await publisher.close()
            await connection.close()
        }
    }
}
