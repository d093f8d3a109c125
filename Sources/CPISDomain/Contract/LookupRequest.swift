import Foundation

/// A lookup request's body as the AMQP contract defines it (`message-contract.md`, "Lookup request").
public struct LookupRequest: Sendable, Hashable {
    public var nhsNumber: NHSNumber
    public var requester: Requester

    public init(nhsNumber: NHSNumber, requester: Requester) {
        self.nhsNumber = nhsNumber
        self.requester = requester
    }

    /// Reads and validates a JSON body. Unknown fields are ignored, as the contract says.
    /// - Throws: an error whose message names the field and says what to fix.
    public init(json: some Collection<UInt8>) throws(LookupRequestError) {
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(json))
        } catch let error as DecodingError {
            throw LookupRequestError(Self.explain(error))
        } catch {
            throw LookupRequestError("the body could not be read: \(error.localizedDescription)")
        }
        let nhsNumber: NHSNumber
        do {
            nhsNumber = try NHSNumber(body.nhsNumber)
        } catch {
            throw LookupRequestError("nhsNumber: \(error)")
        }
        self.init(nhsNumber: nhsNumber, requester: try body.requester.requester())
    }

    /// The body as JSON (for tools and tests that publish requests).
    public func json() -> [UInt8] {
        let body = Body(nhsNumber: nhsNumber.digits, requester: RequesterJSON(requester))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(body)) ?? Data())
    }

    private struct Body: Codable {
        var nhsNumber: String
        var requester: RequesterJSON
    }

    private static func explain(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context, appending key: (any CodingKey)? = nil) -> String {
            let keys = context.codingPath + (key.map { [$0] } ?? [])
            return keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context, appending: key)) is missing"
        case .valueNotFound(_, let context):
            return "\(path(context)) is null: give it a value"
        case .typeMismatch(let type, let context):
            let expected = type == String.self ? "a string" : "\(type)".contains("Dictionary") ? "an object" : "\(type)"
            return context.codingPath.isEmpty ? "the body must be a JSON object"
                                              : "\(path(context)) must be \(expected)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "the body is not valid JSON" : "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "the body could not be read"
        }
    }
}

/// Why a request body was refused; the message names the field and says what to fix.
public struct LookupRequestError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
