import Foundation
import Testing
@testable import CPISDomain

/// Results read back from the contract's JSON (what the SMSP front door answers from).
@Suite("Lookup results read back from JSON")
struct LookupResultReadingTests {
    @Test("a full result reads back as it was written: plans, unborn child, phones, history with system authors")
    func roundTrip() throws {
        let written = LookupResult(requestId: "smsp:ABC", nhsNumber: "9434765919", answer: Samples.richAnswer, attempts: 2,
                                   completedAt: Date(timeIntervalSince1970: 1_795_000_000.123))
        let read = try LookupResult(json: written.json())
        #expect(read == written)
    }

    @Test("failures read back with their kind, message and response code")
    func failures() throws {
        let written = LookupResult(requestId: "r1", nhsNumber: nil, outcome: .failed,
                                   responseCode: ResponseCode(code: "SMSP-0004", displayName: "Could not connect to spine"),
                                   attempts: 3, completedAt: Date(timeIntervalSince1970: 1_795_000_000),
                                   error: .init(kind: .upstreamUnavailable, message: "still failing"))
        #expect(try LookupResult(json: written.json()) == written)
    }

    @Test("a result without the later fields keeps the author's name and role as display text")
    func olderResult() throws {
        let json = #"""
            {"requestId":"r","nhsNumber":"9434765919","outcome":"no-record","responseCode":null,"possiblyStale":false,
             "records":[],"accessHistory":[{"accessedAt":"2026-11-23T22:10:00Z","organisation":null,
             "author":{"kind":"user","name":"Dr Paula Palmer","jobRole":"GP","sdsUserId":"1"}}],
             "attempts":1,"completedAt":"2026-11-24T14:30:00.123Z"}
            """#
        let result = try LookupResult(json: Array(json.utf8))
        #expect(result.accessHistory.first?.author == .user(name: PersonName(family: "Dr Paula Palmer"),
                                                           jobRole: JobRole(code: "", displayName: "GP"), sdsUserId: "1"))
    }

    @Test("refuses what the contract does not allow, naming the field", arguments: [
        (#"{"requestId":"r","outcome":"maybe"}"#, "outcome"),
        (#"{"requestId":"r","outcome":"no-record","possiblyStale":false,"attempts":"1","completedAt":"2026-11-24T14:30:00Z"}"#, "attempts"),
        (#"{"requestId":"r","outcome":"no-record","possiblyStale":false,"attempts":1,"completedAt":"yesterday"}"#, "completedAt"),
        ("[]", "JSON object"),
    ])
    func refuses(json: String, field: String) {
        do {
            _ = try LookupResult(json: Array(json.utf8))
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.message.contains(field), "\(error.message)")
        }
    }
}
