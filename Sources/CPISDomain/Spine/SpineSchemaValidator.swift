import Foundation
import XMLSupport

/// Validates our Spine queries against NHS England's `QUPC_IN000006GB01.xsd` before they are sent
/// (wire format §8: strict outbound). No schema covers the SOAP header: ``SpineRequestBuilder`` keeps
/// its rules, and the tests check them.
public struct SpineSchemaValidator: Sendable {
    private let query: XMLSchema
    /// Spine's answers' schemas, by interaction, in the order they are looked for: findings on an
    /// answer are reported, never refused.
    private let answers: [(interaction: String, schema: XMLSchema)]

    /// - Parameter directory: a folder holding `cpis-hl7v3-schemas/` as NHS England publishes it.
    public init(directory: URL) throws(XMLError) {
        func schema(_ name: String) throws(XMLError) -> XMLSchema {
            try XMLSchema(contentsOf: directory.appending(path: "cpis-hl7v3-schemas/Schemas/\(name).xsd"),
                          normalisingProhibitedAttributeTypes: true)
        }
        query = try schema(SpineConstants.queryInteraction)
        var answers: [(interaction: String, schema: XMLSchema)] = []
        for name in ["REPC_IN000007GB01", "QUQI_IN010000UK14", "MCCI_IN010000UK13"] { answers.append((name, try schema(name))) }
        self.answers = answers
    }

    /// What Spine's schema finds wrong with an answer's interaction, if anything (wire format §8: read
    /// leniently, so these are logged and counted, never turned into a failed lookup).
    public func findings(in answer: XMLDocument) -> (interaction: String, problem: String)? {
        guard let (name, schema, element) = answers.lazy.compactMap({ name, schema in
            answer.rootElement.descendant(named: name).map { (name, schema, $0) }
        }).first
        else { return nil }
        do {
            try schema.validate(try XMLDocument(copying: element))
            return nil
        } catch {
            return (name, error.message)
        }
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
