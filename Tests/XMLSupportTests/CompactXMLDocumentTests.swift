import Foundation
import Testing
import TestSupport
import XMLSupport

@Suite("A compact document reads as the libxml2 tree does")
struct CompactXMLDocumentTests {
    /// Namespaces declared in several places and a prefix bound again deep inside, attributes in
    /// and out of namespaces, escapes of every kind, CDATA, comments and a processing instruction.
    private let mixed = """
        <?xml version="1.0" encoding="UTF-8"?>
        <soap:Envelope xmlns:soap="\(Namespace.soap)" xmlns:wsa="\(Namespace.addressing)">
          <soap:Header><wsa:MessageID> uuid:0001 </wsa:MessageID></soap:Header>
          <soap:Body>
            <QUPC xmlns="\(Namespace.hl7)" xmlns:xsi="\(Namespace.xsi)">
              <id root="ROOT-1" extension="a &amp; b &#38; c &lt; d &#x41;&#66; &quot;e&apos;"/>
              <value xsi:type="II" extension="9434765919"/>
              <text>a<![CDATA[<b>&amp;]]>c<!-- not text --><?pi not text?>&amp;&#x44;<i>e</i></text>
              <soap:note xmlns:soap="\(Namespace.notSOAP)">rebound</soap:note>
              <empty/>
            </QUPC>
          </soap:Body>
        </soap:Envelope>
        """

    @Test func everyElementReadsAsInTheTree() throws {
        var documents = [("mixed", mixed)]
        if NHSArtefacts.available {
            let templates = NHSArtefacts.root.appendingPathComponent("tkw-cpis-smsp-simulator/response_templates")
            for file in try FileManager.default.contentsOfDirectory(atPath: templates.path).sorted() {
                documents.append((file, try String(contentsOf: templates.appendingPathComponent(file), encoding: .utf8)))
            }
        }
        for (name, text) in documents {
            let tree = try XMLDocument(parsing: Array(text.utf8))
            let compact = try CompactXMLDocument(parsing: Array(text.utf8))
            var compared = 0
            expectSame(tree.rootElement, compact.rootElement, in: name, compared: &compared)
            #expect(compared > 3, "\(name)")
        }
    }

    /// Names, namespaces, text and children, all the way down; and the children found by name.
    private func expectSame(_ tree: XMLElement, _ compact: CompactXMLElement, in name: String, compared: inout Int) {
        compared += 1
        #expect(compact.localName == tree.localName, "\(name)")
        #expect(compact.namespaceURI == tree.namespaceURI, "\(name): \(tree.localName)")
        let (treeChildren, compactChildren) = (tree.childElements, compact.childElements)
        if treeChildren.isEmpty {
            #expect(compact.text == tree.text, "\(name): \(tree.localName)")
        } else {
            // The tree leaves out the white space between elements; the compact document keeps it.
            let unspaced = { (text: String) in text.filter { !$0.isWhitespace } }
            #expect(unspaced(compact.text) == unspaced(tree.text), "\(name): \(tree.localName)")
        }
        #expect(compactChildren.count == treeChildren.count, "\(name): \(tree.localName)")
        for (treeChild, compactChild) in zip(treeChildren, compactChildren) {
            #expect(compact.childElements(named: treeChild.localName, namespaceURI: treeChild.namespaceURI).count
                == tree.childElements(named: treeChild.localName, namespaceURI: treeChild.namespaceURI).count)
            expectSame(treeChild, compactChild, in: name, compared: &compared)
        }
    }

    @Test func attributesAreDecodedAndFoundByNamespace() throws {
        let query = try #require(try CompactXMLDocument(parsing: Array(mixed.utf8)).rootElement
            .firstChildElement(named: "Body", namespaceURI: Namespace.soap)?
            .firstChildElement(named: "QUPC", namespaceURI: Namespace.hl7))
        let id = try #require(query.firstChildElement(named: "id", namespaceURI: Namespace.hl7))
        #expect(id.attribute("root") == "ROOT-1")
        #expect(id.attribute("extension") == #"a & b & c < d AB "e'"#)
        let value = try #require(query.firstChildElement(named: "value", namespaceURI: Namespace.hl7))
        #expect(value.attribute("type", namespaceURI: Namespace.xsi) == "II")
        #expect(value.attribute("type") == nil, "xsi:type is not an attribute in no namespace")
        #expect(value.attribute("extension", namespaceURI: Namespace.hl7) == nil,
                "a default namespace does not apply to attributes")
        #expect(value.attribute("missing") == nil)
        let text = try #require(query.firstChildElement(named: "text", namespaceURI: Namespace.hl7))
        #expect(text.text == "a<b>&amp;c&De", "text and CDATA only, with its descendants'")
        #expect(query.firstChildElement(named: "note", namespaceURI: Namespace.soap) == nil)
        #expect(query.firstChildElement(named: "note", namespaceURI: Namespace.notSOAP)?.text == "rebound")
        #expect(query.firstChildElement(named: "empty", namespaceURI: Namespace.hl7)?.text == "")
        #expect(query.firstChildElement(named: "id", namespaceURI: nil) == nil)
    }

    @Test(arguments: [XMLParsingLimits.default, XMLParsingLimits(allowsDocumentTypeDeclaration: false)])
    func everyDocumentTypeDeclarationIsRefused(limits: XMLParsingLimits) throws {
        let listener = try LoopbackListener()
        let url = "http://127.0.0.1:\(listener.port)"
        let frame = HostileXML.Frame.soap(body: #"<m:Request xmlns:m="urn:example"/>"#)
        for (name, text) in HostileXML.documentTypeDeclarations(fetchingFrom: url, in: frame) {
            let error = #expect(throws: XMLError.self, "\(name)") { try CompactXMLDocument(parsing: Array(text.utf8), limits: limits) }
            #expect(error?.code == .documentTypeDeclarationNotAllowed, "\(name)")
        }
        #expect(listener.connectionCount() == 0)
    }

    @Test func whatIsNotWellFormedIsRefusedWithItsReason() throws {
        let cases: [(String, XMLError.Code)] = [
            ("<a><b></a>", .notWellFormed),
            ("<x:a/>", .notWellFormed),
            ("<a>&undeclared;</a>", .notWellFormed),
            ("<a/><b/>", .notWellFormed),
            ("<a>", .notWellFormed),
            (" \n ", .empty),
            ("<a>\(String(repeating: "x", count: 2_000))</a>", .tooLarge),
        ]
        for (text, code) in cases {
            let error = #expect(throws: XMLError.self, "\(text.prefix(20))") {
                try CompactXMLDocument(parsing: Array(text.utf8), limits: XMLParsingLimits(maximumInputBytes: 1_000))
            }
            #expect(error?.code == code, "\(text.prefix(20))")
        }
        let deep = String(repeating: "<a>", count: 10_000) + String(repeating: "</a>", count: 10_000)
        #expect(throws: XMLError.self) { try CompactXMLDocument(parsing: Array(deep.utf8)) }
    }
}
