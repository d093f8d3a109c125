import AMQPClient
import Foundation

/// The queues and exchanges of the AMQP contract (`message-contract.md`, "Topology"), declared
/// idempotently by every worker at start (and again by the AMQP client after each recovery).
///
/// Dead-lettering: what the broker dead-letters from the lookup queues (a triage caller's
/// `expiration` ran out while the request waited; a message delivered `deliveryLimit` times without
/// being settled) goes through a fanout exchange to the parking lot `dead`, kept for inspection, and
/// to `unanswered`, which the worker consumes to give each such request its one result (`expired`,
/// or `failed`). RabbitMQ cannot route on the dead-letter reason (headers exchanges ignore `x-`
/// headers), hence the copy rather than a split. Requests the worker itself refuses are published
/// straight to `dead`, with the reason in headers. Retry queues hold a message for their delay, then
/// dead-letter it through the default exchange with its original routing key: the queue it came
/// from. All dead-lettering is at-least-once.
public struct WorkerTopology: Sendable, Hashable {
    public var triage = "cpis.lookup.triage"
    public var batch = "cpis.lookup.batch"
    public var dead = "cpis.lookup.dead"
    public var unanswered = "cpis.lookup.unanswered"
    public var deadLetterExchange = "cpis.lookup.dead-letter"
    public var results = "cpis.lookup.results"
    public var retryPrefix = "cpis.lookup.retry"
    public var accessExchange = "cpis.access"
    public var audit = "cpis.access.audit"
    /// Deliveries of one message before the broker dead-letters it (a message that crashes workers
    /// must not do so forever).
    public var deliveryLimit = 5
    /// One retry queue per backoff step.
    public var retryDelays: [Duration] = [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16)]

    public init() {}

    public func queue(for lane: LookupLane) -> String { lane == .triage ? triage : batch }

    /// The delay of a retry step; steps past the last use the last.
    public func retryDelay(step: Int) -> Duration {
        retryDelays[min(step, retryDelays.count - 1)]
    }

    /// The retry exchange (and queue) for a delay step, e.g. `cpis.lookup.retry.4s`.
    public func retryName(step: Int) -> String {
        let milliseconds = retryDelay(step: step).wholeMilliseconds
        return milliseconds % 1000 == 0 ? "\(retryPrefix).\(milliseconds / 1000)s" : "\(retryPrefix).\(milliseconds)ms"
    }

    /// Everything to declare, in order: exchanges and queues before the bindings that join them.
    public var declarations: (exchanges: [AMQPExchange], queues: [AMQPQueue], bindings: [AMQPBinding]) {
        let atLeastOnce: AMQPTable = ["x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"]
        var exchanges = [AMQPExchange(name: deadLetterExchange, kind: .fanout),
                         AMQPExchange(name: accessExchange, kind: .topic)]
        var queues = [AMQPQueue.quorum(dead), AMQPQueue.quorum(unanswered), AMQPQueue.quorum(results),
                      AMQPQueue.quorum(audit)]
        var bindings = [AMQPBinding(queue: dead, exchange: deadLetterExchange, routingKey: ""),
                        AMQPBinding(queue: unanswered, exchange: deadLetterExchange, routingKey: ""),
                        AMQPBinding(queue: audit, exchange: accessExchange, routingKey: "#")]
        for lane in LookupLane.allCases {
            queues.append(AMQPQueue.quorum(queue(for: lane), arguments: atLeastOnce.merging([
                "x-delivery-limit": .int(Int64(deliveryLimit)),
                "x-dead-letter-exchange": .string(deadLetterExchange),
            ]) { $1 }))
        }
        for step in retryDelays.indices {
            let name = retryName(step: step)
            exchanges.append(AMQPExchange(name: name, kind: .fanout))
            queues.append(AMQPQueue.quorum(name, arguments: atLeastOnce.merging([
                "x-message-ttl": .int(retryDelay(step: step).wholeMilliseconds),
                "x-dead-letter-exchange": "",
            ]) { $1 }))
            bindings.append(AMQPBinding(queue: name, exchange: name, routingKey: ""))
        }
        return (exchanges, queues, bindings)
    }

    public func declare(on connection: AMQPConnection) async throws(AMQPError) {
        let (exchanges, queues, bindings) = declarations
        for exchange in exchanges { try await connection.declare(exchange) }
        for queue in queues { try await connection.declare(queue) }
        for binding in bindings { try await connection.bind(binding) }
    }

    /// The `topology:` section of a worker settings file naming these queues and exchanges (for
    /// tools and tests that start `cpis worker` on names of their own).
    public var settingsYAML: String {
        let delays = retryDelays.map { String($0.wholeMilliseconds) }.joined(separator: ", ")
        return """
            topology:
              triage: \(triage)
              batch: \(batch)
              dead: \(dead)
              unanswered: \(unanswered)
              deadLetterExchange: \(deadLetterExchange)
              results: \(results)
              retryPrefix: \(retryPrefix)
              accessExchange: \(accessExchange)
              audit: \(audit)
              deliveryLimit: \(deliveryLimit)
              retryDelaysMs: [\(delays)]
            """
    }

    /// The topology as a RabbitMQ definitions file (`rabbitmqctl import_definitions`, or the
    /// management UI), for operators who create it ahead of the workers.
    public func definitionsJSON(virtualHost: String = "/") -> String {
        func value(_ field: AMQPFieldValue) -> Any {
            switch field {
            case .int(let number): number
            case .string(let text): text
            case .bool(let flag): flag
            case .double(let number): number
            default: "\(field)"
            }
        }
        let (exchanges, queues, bindings) = declarations
        let definitions: [String: Any] = [
            "exchanges": exchanges.map { ["name": $0.name, "vhost": virtualHost, "type": $0.kind.rawValue,
                                          "durable": $0.durable, "auto_delete": $0.autoDelete, "internal": false,
                                          "arguments": $0.arguments.mapValues(value)] },
            "queues": queues.map { ["name": $0.name, "vhost": virtualHost, "durable": $0.durable,
                                    "auto_delete": $0.autoDelete, "arguments": $0.arguments.mapValues(value)] },
            "bindings": bindings.map { ["source": $0.exchange, "vhost": virtualHost, "destination": $0.queue,
                                        "destination_type": "queue", "routing_key": $0.routingKey,
                                        "arguments": $0.arguments.mapValues(value)] },
        ]
        let data = (try? JSONSerialization.data(withJSONObject: definitions,
                                                options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
