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
    public init(json: some Collection<UInt8>) throws(ContractError) {
        let value: JSONValue
        do {
            value = try JSONReader.read(json)
        } catch {
            throw ContractError("the body is not valid JSON")
        }
        guard case .object(let members) = value else { throw ContractError("the body must be a JSON object") }
        let body = JSONFields(path: "", members: members)
        // The body's shape first, then the NHS number's check digit.
        let text = try body.string("nhsNumber")
        let requester = try Requester(json: try body.object("requester"))
        let nhsNumber: NHSNumber
        do {
            nhsNumber = try NHSNumber(text)
        } catch {
            throw ContractError("nhsNumber: \(error)")
        }
        self.init(nhsNumber: nhsNumber, requester: requester)
    }

    /// The body as JSON (for tools and tests that publish requests).
    public func json() -> [UInt8] {
        var writer = JSONWriter(capacity: 512)
        writer.object { object in
            object.member("nhsNumber", nhsNumber.digits)
            object.member("requester") { $0.write(requester) }
        }
        return writer.bytes
    }
}

/// Why a contract message (a request body, or a result read back) is not what the contract says;
/// the message names the field and says what to fix.
public struct ContractError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
