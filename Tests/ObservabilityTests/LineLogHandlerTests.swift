import Foundation
import Logging
@testable import Observability
import Testing

@Suite("Log lines")
struct LineLogHandlerTests {
    private let time = Date(timeIntervalSince1970: 1_796_000_000.123)

    private func text(_ handler: LineLogHandler, _ message: String, _ metadata: Logger.Metadata = [:]) -> String {
        String(decoding: handler.line(time: time, level: .warning, message: message, metadata: metadata), as: UTF8.self)
    }

    @Test("text: time, level, logger, message, then metadata sorted by key")
    func textLine() {
        let handler = LineLogHandler(label: "cpis.worker", level: .info, format: .text)
        #expect(text(handler, "request refused", [LogKey.request: "r-1", LogKey.kind: "unauthorised"])
            == "2026-11-30T00:53:20.123Z warning cpis.worker: request refused kind=unauthorised request=r-1")
    }

    @Test("text: one event is one line, whatever the message holds")
    func oneLine() {
        let handler = LineLogHandler(label: "cpis.worker", level: .info, format: .text)
        #expect(!text(handler, "first\nsecond\r\nthird").contains("\n"))
    }

    @Test("json: one object per line that a log shipper can read, metadata as members")
    func jsonLine() throws {
        let handler = LineLogHandler(label: "cpis.worker", level: .info, format: .json)
        let line = handler.line(time: time, level: .error, message: "SMSP \"down\"\nagain",
                                metadata: [LogKey.request: "r-2", "message": "cannot replace the message"])
        #expect(!line.contains(UInt8(ascii: "\n")))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: String])
        #expect(object == ["time": "2026-11-30T00:53:20.123Z", "level": "error", "logger": "cpis.worker",
                           "message": "SMSP \"down\"\nagain", "request": "r-2"])
    }

    @Test("NHS numbers that slip into a line are masked, in the message and in metadata", arguments: [
        ("lookup of 9434765919 answered", "lookup of *** *** 5919 answered"),
        ("lookup of 943 476 5919 answered", "lookup of *** *** 5919 answered"),
        ("943-476-5919", "*** *** 5919"),
        ("numbers 9434765919,9990000018.", "numbers *** *** 5919,*** *** 0018."),
    ])
    func masked(message: String, expected: String) throws {
        for format in LogFormat.allCases {
            let handler = LineLogHandler(label: "cpis", level: .info, format: format)
            let line = text(handler, message, [LogKey.reason: "\(message)"])
            #expect(!line.contains("9434765919") && !line.contains("943 476 5919") && !line.contains("943-476-5919"))
            #expect(line.contains(expected))
        }
    }

    @Test("other digits are left alone: wrong check digit, longer runs, timestamps, ports", arguments: [
        "9434765918", "94347659190", "19434765919", "request 2026113002 took 1234567890 ns", "127.0.0.1:5692",
    ])
    func leftAlone(message: String) {
        let handler = LineLogHandler(label: "cpis", level: .info, format: .text)
        #expect(text(handler, message).hasSuffix(": \(message)"))
    }
}
