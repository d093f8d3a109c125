import Testing
@testable import CPISDomain

/// The request body reader: RFC 8259 JSON, strictly, and never a crash on hostile input.
@Suite("JSON reader for request bodies")
struct JSONReaderTests {
    static func read(_ text: String) -> JSONValue? { try? JSONReader.read(Array(text.utf8)) }

    @Test("values, escapes and surrogate pairs")
    func values() {
        #expect(Self.read(#" {"a": [1, -2.5e3, true, false, null], "b": "x\"\\\/\n\t\u00e9\ud83d\ude00"} "#) == .object([
            "a": .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]),
            "b": .string("x\"\\/\n\té😀"),
        ]))
        #expect(Self.read(#"{"name":"Zoë"}"#) == .object(["name": .string("Zoë")]))
        #expect(Self.read("[]") == .array([]))
    }

    @Test("refuses what is not JSON", arguments: [
        "", "{", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{a:1}", "\"unterminated", "01x", "-", "1.", "1e",
        "01", "-01", "tru", "nul", "{\"a\":1} trailing", "\"\u{01}\"", #""\x""#, #""\ud800""#, #""\ud800\u0041""#, "'single'",
        String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000),
    ])
    func refuses(text: String) {
        #expect(Self.read(text) == nil, "\(text.prefix(40))")
    }

    @Test("refuses invalid UTF-8 inside a string")
    func invalidUTF8() {
        #expect((try? JSONReader.read([0x22, 0xC3, 0x28, 0x22])) == nil)
    }
}
