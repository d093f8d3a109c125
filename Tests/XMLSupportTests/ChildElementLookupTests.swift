import Testing
import XMLSupport

@Suite("child elements by name and namespace")
struct ChildElementLookupTests {
    @Test("matches the local name and the namespace, never the prefix")
    func namespaceSensitive() throws {
        let document = try XMLDocument(parsing: Array("""
            <r xmlns="urn:a" xmlns:b="urn:b">
              <x id="1"/><b:x id="2"/><x id="3"/><y/><x xmlns="" id="4"/>
            </r>
            """.utf8))
        let root = document.rootElement
        #expect(root.childElements(named: "x", namespaceURI: "urn:a").map { $0.attribute("id") } == ["1", "3"])
        #expect(root.childElements(named: "x", namespaceURI: "urn:b").map { $0.attribute("id") } == ["2"])
        #expect(root.childElements(named: "x", namespaceURI: nil).map { $0.attribute("id") } == ["4"])
        #expect(root.firstChildElement(named: "x", namespaceURI: "urn:a")?.attribute("id") == "1")
        #expect(root.firstChildElement(named: "z", namespaceURI: "urn:a") == nil)
        #expect(root.firstChildElement(named: "y", namespaceURI: "urn:b") == nil)
    }
}
