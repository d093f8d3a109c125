import Foundation
import Testing
import TestSupport
import XMLSupport

/// A two-file schema: the main file includes `types/types.xsd` by a relative path, and that file
/// declares a prohibited attribute with an inline type, as the NHS HL7 schemas do.
private let mainSchema = """
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="urn:example:order"
           targetNamespace="urn:example:order" elementFormDefault="qualified">
  <xs:include schemaLocation="types/types.xsd"/>
  <xs:element name="order" type="Order"/>
</xs:schema>
"""

private let typesSchema = """
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="urn:example:order"
           targetNamespace="urn:example:order" elementFormDefault="qualified">
  <xs:complexType name="AnyOrder">
    <xs:sequence>
      <xs:element name="item" type="xs:string" maxOccurs="unbounded"/>
    </xs:sequence>
    <xs:attribute name="code" type="xs:string"/>
    <xs:attribute name="legacy" type="xs:string"/>
  </xs:complexType>
  <xs:complexType name="Order">
    <xs:complexContent>
      <xs:restriction base="AnyOrder">
        <xs:sequence>
          <xs:element name="item" type="xs:string" maxOccurs="unbounded"/>
        </xs:sequence>
        <xs:attribute name="code" use="required">
          <xs:simpleType>
            <xs:restriction base="xs:string"><xs:pattern value="[A-Z]{3}"/></xs:restriction>
          </xs:simpleType>
        </xs:attribute>
        <xs:attribute name="legacy" use="prohibited">
          <xs:simpleType>
            <xs:restriction base="xs:string"><xs:enumeration value="x"/></xs:restriction>
          </xs:simpleType>
        </xs:attribute>
      </xs:restriction>
    </xs:complexContent>
  </xs:complexType>
</xs:schema>
"""

@Suite("Compiling schemas and validating against them")
struct XMLSchemaTests {
    let directory: TemporaryDirectory
    let schemaURL: URL

    init() throws {
        directory = try TemporaryDirectory()
        schemaURL = try directory.write(mainSchema, to: "order.xsd")
        try directory.write(typesSchema, to: "types/types.xsd")
    }

    @Test func validDocumentValidates() throws {
        let schema = try XMLSchema(contentsOf: schemaURL, normalisingProhibitedAttributeTypes: true)
        let document = try parse(#"<order xmlns="urn:example:order" code="ABC"><item>1</item></order>"#)
        #expect(throws: Never.self) { try schema.validate(document) }
    }

    @Test func invalidDocumentListsEveryProblemWithItsLine() throws {
        let schema = try XMLSchema(contentsOf: schemaURL, normalisingProhibitedAttributeTypes: true)
        let document = try parse("""
        <order xmlns="urn:example:order"
               code="abc" legacy="x">
          <item>1</item>
          <unexpected/>
        </order>
        """)
        let error = #expect(throws: XMLError.self) { try schema.validate(document) }
        #expect(error?.code == .schemaInvalid)
        let issues = error?.issues ?? []
        // libxml2 gives an element, and so its attributes' errors, the line its start tag ends on.
        #expect(issues.contains { $0.line == 2 && $0.message.contains("code") }, "pattern: \(issues)")
        #expect(issues.contains { $0.line == 2 && $0.message.contains("legacy") }, "prohibited: \(issues)")
        #expect(issues.contains { $0.line == 4 && $0.message.contains("unexpected") }, "element: \(issues)")
        #expect(error?.line == issues.first?.line)
    }

    @Test func withoutNormalisationTheProhibitedAttributeTypeDoesNotCompile() throws {
        let error = #expect(throws: XMLError.self) { try XMLSchema(contentsOf: schemaURL) }
        #expect(error?.code == .schemaLoad)
        // The problem is in the included file, found relative to the including one.
        #expect(error?.issues.contains { $0.message.contains("types/types.xsd") } == true,
                "\(String(describing: error))")
    }

    @Test func missingFileIsASchemaLoadError() {
        let error = #expect(throws: XMLError.self) {
            try XMLSchema(contentsOf: directory.url.appendingPathComponent("missing.xsd"))
        }
        #expect(error?.code == .schemaLoad)
    }

    @Test func nonFileURLIsRefused() throws {
        let listener = try LoopbackListener()
        let url = try #require(URL(string: "http://127.0.0.1:\(listener.port)/schema.xsd"))
        let error = #expect(throws: XMLError.self) { try XMLSchema(contentsOf: url) }
        #expect(error?.code == .schemaLoad)
        #expect(listener.connectionCount() == 0)
    }

    @Test func importsFromTheNetworkAreRefused() throws {
        let listener = try LoopbackListener()
        let url = try directory.write("""
        <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:example:a">
          <xs:import namespace="urn:example:b" schemaLocation="http://127.0.0.1:\(listener.port)/b.xsd"/>
          <xs:element name="a" type="xs:string"/>
        </xs:schema>
        """, to: "imports-network.xsd")
        for normalising in [false, true] {
            let error = #expect(throws: XMLError.self) {
                try XMLSchema(contentsOf: url, normalisingProhibitedAttributeTypes: normalising)
            }
            #expect(error?.code == .schemaLoad)
            #expect(error?.message.contains("local files only") == true, "\(String(describing: error))")
        }
        #expect(listener.connectionCount() == 0)
    }

    @Test func oneSchemaValidatesFromManyThreadsAtOnce() async throws {
        let schema = try XMLSchema(contentsOf: schemaURL, normalisingProhibitedAttributeTypes: true)
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<32 {
                group.addTask {
                    let code = index.isMultiple(of: 2) ? "ABC" : "bad"
                    let text = #"<order xmlns="urn:example:order" code="\#(code)"><item>1</item></order>"#
                    do throws(XMLError) {
                        try schema.validate(try parse(text))
                        return index.isMultiple(of: 2)
                    } catch {
                        return !index.isMultiple(of: 2) && error.code == .schemaInvalid
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.count == 32)
        #expect(outcomes.allSatisfy { $0 })
    }
}
