import Foundation
import Testing
import XMLSupport

@Suite(
    "The NHS schemas and the NHS test tool's response",
    .enabled(if: NHSArtefacts.available, NHSArtefacts.skipReason)
)
struct NHSSchemaTests {
    static let querySchema = "cpis-hl7v3-schemas/Schemas/QUPC_MT000006GB01.xsd"
    static let responseSchema = "cpis-hl7v3-schemas/Schemas/REPC_MT000007GB01.xsd"
    static let envelopeSchema = "itk-schemas/distributionEnvelope-v2-0.xsd"
    static let successResponse =
        "tkw-cpis-smsp-simulator/response_templates/NHSQueryResponse_Success_REPC_MT000012GB01_SMSP-0000_01_ITK.xml"

    @Test func hl7SchemaCompilesOnlyWhenNormalised() throws {
        let url = NHSArtefacts.url(Self.querySchema)
        #expect(throws: Never.self) { try XMLSchema(contentsOf: url, normalisingProhibitedAttributeTypes: true) }
        let error = #expect(throws: XMLError.self) { try XMLSchema(contentsOf: url) }
        #expect(error?.code == .schemaLoad)
        #expect(error?.issues.contains { $0.message.contains("Expected is (annotation?)") } == true,
                "libxml2's complaint about the prohibited attributes' types: \(String(describing: error))")
    }

    @Test func envelopeOfTheSuccessResponseValidates() throws {
        let schema = try XMLSchema(
            contentsOf: NHSArtefacts.url(Self.envelopeSchema), normalisingProhibitedAttributeTypes: true
        )
        let response = try XMLDocument(parsing: Data(contentsOf: NHSArtefacts.url(Self.successResponse)))
        #expect(response.rootElement.localName == "DistributionEnvelope")
        #expect(response.rootElement.namespaceURI == Namespace.itk)
        #expect(throws: Never.self) { try schema.validate(response) }
    }

    @Test func everyResponseTemplateParsesAndItsEnvelopeValidates() throws {
        let schema = try XMLSchema(
            contentsOf: NHSArtefacts.url(Self.envelopeSchema), normalisingProhibitedAttributeTypes: true
        )
        let folder = NHSArtefacts.url("tkw-cpis-smsp-simulator/response_templates")
        let templates = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "xml" }
        #expect(templates.count >= 9)
        for template in templates {
            let response = try XMLDocument(parsing: Data(contentsOf: template))
            #expect(throws: Never.self, "\(template.lastPathComponent)") { try schema.validate(response) }
        }
    }

    @Test func payloadOfTheSuccessResponseValidatesWithoutTheSMSPValue() throws {
        let schema = try XMLSchema(
            contentsOf: NHSArtefacts.url(Self.responseSchema), normalisingProhibitedAttributeTypes: true
        )
        let response = try XMLDocument(parsing: Data(contentsOf: NHSArtefacts.url(Self.successResponse)))
        let payload = try #require(try response.firstElement(
            matching: "/d:DistributionEnvelope/d:payloads/d:payload/hl7:CP-ISNHSQueryResponse",
            namespaces: Namespace.prefixes
        ))
        let payloadDocument = try XMLDocument(copying: payload)
        let root = payloadDocument.rootElement

        // As sent, the SMSP `value` (the response code) is not in REPC_MT000007GB01.
        let error = #expect(throws: XMLError.self) { try schema.validate(payloadDocument) }
        #expect(error?.code == .schemaInvalid)
        #expect(error?.issues.contains { $0.message.contains("value") } == true, "\(String(describing: error))")

        let value = try #require(try root.firstElement(matching: "hl7:value", namespaces: Namespace.prefixes))
        #expect(value.attribute("code") == "SMSP-0000")
        #expect(root.removeChild(value))
        #expect(throws: Never.self) { try schema.validate(payloadDocument) }
    }
}
