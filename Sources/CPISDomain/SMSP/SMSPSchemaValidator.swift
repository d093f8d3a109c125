import Foundation
import XMLSupport

/// Validates SMSP requests against the NHS schemas: the Distribution Envelope against ITK's
/// `distributionEnvelope-v2-0.xsd`, a query payload against CP-IS's `QUPC_MT000006GB01.xsd`
/// (``SMSPAnswerValidator`` does answers).
///
/// The schema folder is a setting, so an operator can switch on validation of live traffic as well
/// as the tests using it. The HL7 schemas are normalised on load (see ``XMLSchema``): libxml2 does
/// not compile them as shipped.
public struct SMSPSchemaValidator: Sendable {
    private let distributionEnvelope: XMLSchema
    private let queryPayload: XMLSchema

    /// - Parameter directory: a folder holding `itk-schemas/` and `cpis-hl7v3-schemas/` as NHS England
    ///   publishes them (in this repository's workspace: `../shared/nhs`).
    public init(directory: URL) throws(XMLError) {
        distributionEnvelope = try XMLSchema(
            contentsOf: directory.appending(path: "itk-schemas/distributionEnvelope-v2-0.xsd"))
        queryPayload = try XMLSchema(
            contentsOf: directory.appending(path: "cpis-hl7v3-schemas/Schemas/QUPC_MT000006GB01.xsd"),
            normalisingProhibitedAttributeTypes: true)
    }

    /// Throws the schema errors (with line numbers) of a request built by ``SMSPRequestBuilder``.
    public func validate(request: SMSPRequest) throws(XMLError) {
        let payload = try distributionEnvelopePayload(of: Array(request.body.utf8))
        try queryPayload.validate(try XMLDocument(copying: payload))
    }

    /// Validates the SOAP Body's Distribution Envelope; returns its payload.
    func distributionEnvelopePayload(of soap: some Collection<UInt8>) throws(XMLError) -> XMLElement {
        let document = try XMLDocument(parsing: soap)
        guard let body = document.rootElement.childElements.first(where: { $0.localName == "Body" }),
              let envelope = body.childElements.first(where: { $0.localName == "DistributionEnvelope" })
        else {
            throw XMLError(code: .schemaInvalid, message: "the message has no SOAP Body with a DistributionEnvelope")
        }
        try distributionEnvelope.validate(try XMLDocument(copying: envelope))
        let payload = envelope.childElements.first { $0.localName == "payloads" }?
            .childElements.first?.childElements.first
        guard let payload else {
            throw XMLError(code: .schemaInvalid, message: "the Distribution Envelope carries no payload")
        }
        return payload
    }
}

/// Validates SMSP answers (the front door's, the simulator's) against the NHS schemas: the
/// Distribution Envelope, and the payload against CP-IS's `REPC_MT000007GB01.xsd`. Apart from
/// ``SMSPSchemaValidator`` so that a worker validating its requests does not compile it at start.
public struct SMSPAnswerValidator: Sendable {
    private let envelope: SMSPSchemaValidator
    private let answerPayload: XMLSchema

    /// - Parameter directory: as for ``SMSPSchemaValidator``.
    public init(directory: URL) throws(XMLError) {
        envelope = try SMSPSchemaValidator(directory: directory)
        answerPayload = try XMLSchema(
            contentsOf: directory.appending(path: "cpis-hl7v3-schemas/Schemas/REPC_MT000007GB01.xsd"),
            normalisingProhibitedAttributeTypes: true)
    }

    /// Throws the schema errors of an SMSP answer (a SOAP response). The SMSP's response code
    /// (`value`) is an addition REPC_MT000007GB01 does not have (wire format, section 4): it is taken
    /// out before the payload is validated.
    public func validate(answer body: some Collection<UInt8>) throws(XMLError) {
        let payload = try XMLDocument(copying: try envelope.distributionEnvelopePayload(of: body))
        if let code = payload.rootElement.childElements.first(where: { $0.localName == "value" }) {
            _ = payload.rootElement.removeChild(code)
        }
        try answerPayload.validate(payload)
    }
}
