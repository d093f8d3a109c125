import Foundation
import Testing
import XMLSupport

/// A SOAP request shaped like the worker's: default and prefixed namespaces, and the prefix
/// `soap` bound to another namespace deep inside.
private let soapRequest = """
<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://www.w3.org/2005/08/addressing">
  <soap:Header>
    <wsa:MessageID>uuid:0001</wsa:MessageID>
  </soap:Header>
  <soap:Body>
    <itk:DistributionEnvelope xmlns:itk="urn:nhs-itk:ns:201005">
      <itk:header service="urn:nhs-itk:services:201005:getCPISQuery" trackingid="T-1"/>
      <itk:payloads count="1">
        <itk:payload id="uuid_1">
          <QUPC xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
            <id root="ROOT-1"/>
            <value xsi:type="II" extension="9434765919"/>
            <text>a<![CDATA[<b>]]>c<!-- not text --></text>
            <soap:note xmlns:soap="urn:example:not-soap">rebound</soap:note>
          </QUPC>
        </itk:payload>
      </itk:payloads>
    </itk:DistributionEnvelope>
  </soap:Body>
</soap:Envelope>
"""

@Suite("Parsing and reading a namespaced document")
struct XMLDocumentTests {
    let document: XMLDocument

    init() throws {
        document = try parse(soapRequest)
    }

    @Test func rootElementHasLocalNameAndNamespace() {
        let root = document.rootElement
        #expect(root.localName == "Envelope")
        #expect(root.namespaceURI == Namespace.soap)
        #expect(root.line == 2)
        #expect(root.childElements.map(\.localName) == ["Header", "Body"])
        #expect(!document.hasDocumentTypeDeclaration)
    }

    @Test func xpathMatchesByNamespaceNotPrefix() throws {
        let namespaces = Namespace.prefixes
        let messageID = "/s:Envelope/s:Header/a:MessageID"
        #expect(try document.string(matching: messageID, namespaces: namespaces) == "uuid:0001")
        #expect(try document.string(matching: "//d:header/@trackingid", namespaces: namespaces) == "T-1")
        // soap:note is in another namespace, so it is not among the SOAP elements…
        #expect(try document.elements(matching: "//s:*", namespaces: namespaces).map(\.localName)
            == ["Envelope", "Header", "Body"])
        // …but is found by its own namespace.
        let note = try #require(try document.firstElement(matching: "//n:note", namespaces: namespaces))
        #expect(note.namespaceURI == Namespace.notSOAP)
        #expect(note.text == "rebound")
        // XPath 1.0 has no default namespace: an unprefixed name only matches no namespace.
        #expect(try document.elements(matching: "//id").isEmpty)
        #expect(try document.elements(matching: "//hl7:id", namespaces: namespaces).count == 1)
        #expect(try document.firstElement(matching: "//hl7:missing", namespaces: namespaces) == nil)
        #expect(try document.string(matching: "//hl7:missing", namespaces: namespaces) == nil)
    }

    @Test func xpathRelativeToAnElement() throws {
        let namespaces = Namespace.prefixes
        let payload = try #require(try document.firstElement(matching: "//d:payload", namespaces: namespaces))
        #expect(try payload.string(matching: "hl7:QUPC/hl7:id/@root", namespaces: namespaces) == "ROOT-1")
        let query = try #require(try payload.firstElement(matching: "hl7:QUPC", namespaces: namespaces))
        #expect(query.childElements.map(\.localName) == ["id", "value", "text", "note"])
        #expect(try query.firstElement(matching: "..") == payload)
        // Relative means relative: the envelope's header is not a child of the payload.
        #expect(try payload.elements(matching: "d:header", namespaces: namespaces).isEmpty)
    }

    @Test func attributesByLocalNameAndNamespace() throws {
        let value = try #require(try document.firstElement(matching: "//hl7:value", namespaces: Namespace.prefixes))
        #expect(value.attribute("type", namespaceURI: Namespace.xsi) == "II")
        #expect(value.attribute("type") == nil, "xsi:type is not an attribute in no namespace")
        #expect(value.attribute("extension") == "9434765919")
        #expect(value.attribute("extension", namespaceURI: Namespace.hl7) == nil,
                "a default namespace does not apply to attributes")
        #expect(value.attribute("missing") == nil)
    }

    @Test func textIsTextAndCDATAOnly() throws {
        let text = try #require(try document.firstElement(matching: "//hl7:text", namespaces: Namespace.prefixes))
        #expect(text.text == "a<b>c")
    }

    @Test func invalidXPathIsATypedError() throws {
        let cases: [(expression: String, reason: String)] = [
            ("//[", "invalid expression"),
            ("//zz:a", "unregistered prefix"),
            ("count(//*)", "not a node set"),
            ("string(//hl7:id)", "a computed string"),
        ]
        for (expression, reason) in cases {
            let error = #expect(throws: XMLError.self, "\(reason)") {
                try document.string(matching: expression, namespaces: Namespace.prefixes)
            }
            #expect(error?.code == .xpath, "\(reason)")
            #expect(error?.message.contains(expression) == true, "the message names the expression")
        }
        let attributes = #expect(throws: XMLError.self) {
            try document.elements(matching: "//@root")
        }
        #expect(attributes?.code == .xpath, "attributes are not elements")
        let defaultPrefix = #expect(throws: XMLError.self) {
            try document.elements(matching: "//a", namespaces: ["": Namespace.hl7])
        }
        #expect(defaultPrefix?.code == .xpath, "XPath 1.0 has no default namespace to register")
    }

    @Test func elementCopiedToItsOwnDocument() throws {
        let query = try #require(try document.firstElement(matching: "//hl7:QUPC", namespaces: Namespace.prefixes))
        let copy = try XMLDocument(copying: query)
        #expect(copy.rootElement.localName == "QUPC")
        #expect(copy.rootElement.namespaceURI == Namespace.hl7)
        #expect(copy.rootElement.line == query.line, "line numbers survive the copy")
        #expect(try copy.string(matching: "/hl7:QUPC/hl7:value/@xsi:type", namespaces: Namespace.prefixes) == "II")
        // The copy is independent: removing from it leaves the original alone.
        let value = try #require(try copy.firstElement(matching: "/hl7:QUPC/hl7:value", namespaces: Namespace.prefixes))
        #expect(copy.rootElement.removeChild(value))
        #expect(copy.rootElement.childElements.map(\.localName) == ["id", "text", "note"])
        #expect(query.childElements.map(\.localName) == ["id", "value", "text", "note"])
        // A removed element stays readable, but is no longer in the tree.
        #expect(value.attribute("extension") == "9434765919")
        #expect(try copy.elements(matching: "//hl7:value", namespaces: Namespace.prefixes).isEmpty)
        #expect(!copy.rootElement.removeChild(value), "no longer a child")
        #expect(!query.removeChild(document.rootElement), "never a child")
    }

    @Test func copyDeclaresNamespacesInScope() throws {
        // `dt` is declared above the copied element and used only inside an attribute value,
        // where libxml2's copy alone would lose it.
        let document = try parse("""
        <r xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:dt="urn:example:dt">\
        <a xmlns="urn:hl7-org:v3"><b xsi:type="dt:II"/></a></r>
        """)
        let a = try #require(document.rootElement.childElements.first)
        let copy = try XMLDocument(copying: a)
        let b = try #require(copy.rootElement.childElements.first)
        #expect(b.attribute("type", namespaceURI: Namespace.xsi) == "dt:II")
        let declaresDT = "/hl7:a/hl7:b[namespace::*[name() = 'dt' and . = 'urn:example:dt']]"
        #expect(try copy.elements(matching: declaresDT, namespaces: Namespace.prefixes).count == 1)
    }
}
