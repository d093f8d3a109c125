import Foundation

/// An AMQP field table: message headers and declaration arguments.
public typealias AMQPTable = [String: AMQPFieldValue]

/// A value in an AMQP field table.
///
/// Integers of every width decode to `.int` and are encoded as 64-bit (`l`), which RabbitMQ accepts
/// for every integer argument (`x-message-ttl`, `x-delivery-limit`, ...).
public enum AMQPFieldValue: Sendable, Hashable {
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case timestamp(Date)
    case array([AMQPFieldValue])
    case table(AMQPTable)
    case void

    /// The value as a string, when it is one.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The value as an integer, when it is one.
    public var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }
}

extension AMQPFieldValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
