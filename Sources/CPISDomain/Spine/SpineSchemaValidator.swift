import Foundation
import XMLSupport

/// Validates our Spine queries against NHS England's `QUPC_IN000006GB01.xsd` before they are sent
/// (wire format §8: strict outbound). No schema covers the SOAP header: ``SpineRequestBuilder`` keeps
/// its rules, and the tests check them.
public struct SpineSchemaValidator: Sendable {
    private let query: XMLSchema
    /// Spine's answers' schemas, by interaction: findings on an answer are reported, never refused.
    private let answers: [String: XMLSchema]

    /// - Parameter directory: a folder holding `cpis-hl7v3-schemas/` as NHS England publishes it.
    public init(directory: URL) throws(XMLError) {
        func schema(_ name: String) throws(XMLError) -> XMLSchema {
            try XMLSchema(contentsOf: directory.appending(path: "cpis-hl7v3-schemas/Schemas/\(name).xsd"),
                          normalisingProhibitedAttributeTypes: true)
        }
        query = try schema(SpineConstants.queryInteraction)
        var answers: [String: XMLSchema] = [:]
        for name in ["REPC_IN000007GB01", "QUQI_IN010000UK14", "MCCI_IN010000UK13"] { answers[name] = try schema(name) }
        self.answers = answers
    }

    /// What Spine's schema finds wrong with an answer's interaction, if anything (wire format §8: read
    /// leniently, so these are logged and counted, never turned into a failed lookup).
    public func findings(inAnswer bytes: [UInt8]) -> (interaction: String, problem: String)? {
        guard let document = try? XMLDocument(parsing: bytes),
              let (name, element) = answers.keys.lazy.compactMap({ name in
                  Self.descendant(name, in: document.rootElement).map { (name, $0) }
              }).first,
              let schema = answers[name]
        else { return nil }
        do {
            try schema.validate(try XMLDocument(copying: element))
            return nil
        } catch {
            return (name, error.message)
        }
    }

    private static func descendant(_ name: String, in element: XMLElement) -> XMLElement? {
        for child in element.childElements {
            if child.localName == name { return child }
            if let found = descendant(name, in: child) { return found }
        }
        return nil
    }

    public func validate(request: SpineRequest) throws(XMLError) {
        try validate(envelope: Array(request.body.utf8))
    }

    /// Validates the QUPC_IN000006GB01 in a SOAP envelope (the Spine stand-in checks what it receives).
    public func validate(envelope bytes: [UInt8]) throws(XMLError) {
        let document = try XMLDocument(parsing: bytes)
        guard let body = document.rootElement.childElements.first(where: { $0.localName == "Body" }),
              let interaction = body.childElements.first(where: { $0.localName == SpineConstants.queryInteraction })
        else {
            throw XMLError(code: .schemaInvalid, message: "the request has no SOAP Body with a \(SpineConstants.queryInteraction)")
        }
        try query.validate(try XMLDocument(copying: interaction))
    }
}
