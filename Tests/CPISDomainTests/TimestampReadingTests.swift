import CPISDomain
import Foundation
import Testing

/// The one reader of timestamps from outside (`wsu:Created`, `wsu:Expires`, the contract's times):
/// what it reads is the instant meant, and anything else is refused, never handed to ICU.
@Suite("timestamps from outside")
struct TimestampReadingTests {
    @Test("timestamps with their zone read to the millisecond", arguments: [
        ("2026-11-24T14:30:00.123Z", 1_795_530_600.123), ("2026-11-24T14:30:00Z", 1_795_530_600),
        ("1969-12-31T23:59:59.000Z", -1),
        // Offsets: the same instant, whichever zone the sender wrote it in.
        ("2026-11-24T15:30:00.123+01:00", 1_795_530_600.123), ("2026-11-24T14:30:00+00:00", 1_795_530_600),
        ("2026-11-24T09:00:00-05:30", 1_795_530_600), ("2026-11-25T04:30:00+14:00", 1_795_530_600),
        ("2026-11-24T00:30:00-14:00", 1_795_530_600),
        // XML Schema allows any number of fraction digits; past nine they do not count. (Fuzzing the
        // front door found that 24 of them overflowed the reading and stopped the process.)
        ("2026-11-24T14:30:00.1234567891Z", 1_795_530_600.123),
        ("2026-11-24T14:30:00.\(String(repeating: "6", count: 40))Z", 1_795_530_600.667),
        ("2026-11-24T15:30:00.\(String(repeating: "6", count: 40))+01:00", 1_795_530_600.667),
    ])
    func reads(text: String, seconds: Double) throws {
        let date = try #require(UTCTimestamp.date(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.0005)
    }

    /// The first is the input that killed the front door: it fell through to Foundation's
    /// `ISO8601DateFormatter`, and ICU died inside it with SIGFPE.
    @Test("what is not a timestamp with its zone is refused, the input that crashed ICU first", arguments: [
        "2026-11-24T14:30:34.\(String(repeating: "7", count: 300))'7777284Z",
        "2026-11-24T14:30:34.7777'7777284Z", "2026-11-24T14:30:34.7'+01:00",
        "2026-11-24 14:30:00Z", "2026-13-24T14:30:00Z", "2026-02-29T14:30:00Z", "2026-11-24T24:00:00Z",
        "2026-11-24T14:60:00Z", "2026-11-24T14:30:60Z",
        // No zone: which instant it means is unknown.
        "2026-11-24T14:30:00", "2026-11-24T14:30:00.123",
        "2026-11-24T14:30:00.Z", "2026-11-24T14:30:00.+01:00", "", "Z", "+01:00", "2026-11-24T14:30:00+",
        "2026-11-24T14:30:00+1:00", "2026-11-24T14:30:00+0100", "2026-11-24T14:30:00+14:01", "2026-11-24T14:30:00+15:00",
        "2026-11-24T14:30:00+01:60", "2026-11-24T14:30:00*01:00", "2026-11-24T14:30:00+01:00Z",
        "2026-11-24T14:30:00.12345678901234567890x1Z", "-2026-11-24T14:30:00Z", "2026-11-24T14:30:00Z ",
        "２０２６-11-24T14:30:00Z", "2026-11-24T14:30:00\u{0}Z",
    ])
    func refusesWhatItCannotRead(text: String) {
        #expect(UTCTimestamp.date(text) == nil)
    }

    @Test("what the writer writes, the reader reads back, and writes back unchanged: every millisecond of a second, now and far ahead")
    func roundTrip() throws {
        for seconds in [0, -1, 1_795_530_600, 1_782_907_200, 17_573_985_000, 253_402_214_398] {
            for millisecond in 0..<1000 {
                let text = UTCTimestamp.string(Date(timeIntervalSince1970: Double(seconds) + Double(millisecond) / 1000))
                let back = try #require(UTCTimestamp.date(text))
                #expect(UTCTimestamp.string(back) == text)
                #expect(text.hasSuffix(String(format: ".%03dZ", millisecond)), "\(text)")
            }
        }
        // The fuzz target's find: read as a hair above .120, written as .120, read back a hair below,
        // which rounding down wrote as .119.
        let found = try #require(UTCTimestamp.date("2526-11-24T14:30:00.1200043Z"))
        #expect(UTCTimestamp.string(found) == "2526-11-24T14:30:00.120Z")
        #expect(UTCTimestamp.string(try #require(UTCTimestamp.date("2526-11-24T14:30:00.120Z"))) == "2526-11-24T14:30:00.120Z")
    }
}
