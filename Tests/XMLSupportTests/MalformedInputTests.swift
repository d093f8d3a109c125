import Foundation
import Testing
import TestSupport
import XMLSupport

@Suite("Input that is not an acceptable XML document")
struct MalformedInputTests {
    @Test(arguments: ["", "  \r\n\t "])
    func emptyInput(text: String) {
        let error = #expect(throws: XMLError.self) { try parse(text) }
        #expect(error?.code == .empty)
    }

    @Test func emptyData() {
        let error = #expect(throws: XMLError.self) { try XMLDocument(parsing: Data()) }
        #expect(error?.code == .empty)
    }

    @Test func truncatedInput() {
        let text = "<?xml version=\"1.0\"?>\n<a xmlns=\"urn:x\">\n  <b>text</b>\n  <c attr=\"v"
        let error = #expect(throws: XMLError.self) { try parse(text) }
        #expect(error?.code == .notWellFormed)
        #expect(error?.line != nil, "libxml2 says where")
    }

    @Test func htmlErrorPage() {
        let page = """
        <!DOCTYPE html>
        <html><head><title>502 Bad Gateway</title></head>
        <body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>
        """
        let error = #expect(throws: XMLError.self) { try parse(page) }
        #expect(error?.code == .notWellFormed)
        #expect(error?.line == 3, "the unclosed <hr> is on line 3")
    }

    @Test func randomBytes() {
        // A fixed-seed generator (SplitMix64), so a failure can be reproduced.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bytes = (0..<4096).map { _ -> UInt8 in
            state &+= 0x9E37_79B9_7F4A_7C15
            var mixed = state
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            return UInt8(truncatingIfNeeded: mixed ^ (mixed >> 31))
        }
        let error = #expect(throws: XMLError.self) { try XMLDocument(parsing: bytes) }
        #expect(error?.code == .notWellFormed)
    }

    @Test func undeclaredNamespacePrefix() {
        // libxml2 builds a tree for this (namespace errors are not fatal to it); we refuse it.
        let error = #expect(throws: XMLError.self) { try parse("<soap:Envelope/>") }
        #expect(error?.code == .notWellFormed)
        #expect(error?.message.contains("soap") == true)
    }

    @Test func tooLargeIsRefusedBeforeParsing() {
        let text = "<r>" + String(repeating: "x", count: 200) + "</r>"
        let small = XMLParsingLimits(maximumInputBytes: 100)
        let error = #expect(throws: XMLError.self) { try parse(text, limits: small) }
        #expect(error?.code == .tooLarge)
        #expect(throws: Never.self) { try parse(text, limits: XMLParsingLimits(maximumInputBytes: text.utf8.count)) }

        let overDefault = HostileXML.larger(than: XMLParsingLimits.default.maximumInputBytes)
        let defaultError = #expect(throws: XMLError.self) { try parse(overDefault) }
        #expect(defaultError?.code == .tooLarge)
    }

    @Test(arguments: [300, 100_000])
    func excessiveNestingIsRefused(depth: Int) {
        // libxml2 refuses more than 256 levels unless asked for XML_PARSE_HUGE, which we never do.
        let error = #expect(throws: XMLError.self) { try parse(HostileXML.deepNesting(depth: depth)) }
        #expect(error?.code == .notWellFormed)
    }

    @Test func hugeAttributesAreRefused() {
        // The input limit bounds an attribute (5 MB is over the default's 4 MiB)...
        let overInput = #expect(throws: XMLError.self) { try parse(HostileXML.hugeAttribute(bytes: 5_000_000)) }
        #expect(overInput?.code == .tooLarge)
        // ...and where a caller raises it, libxml2's own limit of 10 MB still holds (no XML_PARSE_HUGE).
        let raised = XMLParsingLimits(maximumInputBytes: 16 * 1024 * 1024)
        let overLibXML2 = #expect(throws: XMLError.self) { try parse(HostileXML.hugeAttribute(bytes: 10_000_001), limits: raised) }
        #expect(overLibXML2?.code == .notWellFormed)
    }

    @Test func errorDescriptionSaysWhatAndWhere() {
        let error = XMLError(code: .notWellFormed, message: "boom", line: 7)
        #expect(error.description == "XML error (notWellFormed) at line 7: boom")
    }
}
