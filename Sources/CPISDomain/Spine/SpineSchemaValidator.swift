import Foundation
import XMLSupport

/// Validates our Spine queries against NHS England's `QUPC_IN000006GB01.xsd` before they are sent
/// (wire format §8: strict outbound). No schema covers the SOAP header: ``SpineRequestBuilder`` keeps
/// its rules, and the tests check them.
public struct SpineSchemaValidator: Sendable {
    private let query: XMLSchema

    /// - Parameter directory: a folder holding `cpis-hl7v3-schemas/` as NHS England publishes it.
    public init(directory: URL) throws(XMLError) {
        query = try XMLSchema(contentsOf: directory.appending(path: "cpis-hl7v3-schemas/Schemas/QUPC_IN000006GB01.xsd"),
                              normalisingProhibitedAttributeTypes: true)
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
