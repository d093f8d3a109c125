import Foundation

/// HL7 V3 timestamps (`TS`): `yyyyMMdd[HHmm[ss]][+ZZZZ|-ZZZZ]`.
///
/// CP-IS sends plan dates without a zone (`yyyyMMddHHmm`); they are English local times, so a value
/// without an offset is read in Europe/London (BST or GMT as the date falls).
public enum HL7Time {
    /// Europe/London. Nil only where its zone data is missing, and then the worker and the simulator
    /// refuse to start (``londonZoneProblem``): reading plan times in UTC would put summer ones an
    /// hour out.
    static let loadedLondon = TimeZone(identifier: "Europe/London")
    static var london: TimeZone { loadedLondon ?? .gmt }

    /// Why English local times cannot be read here, or nil when they can: the zone is missing, or
    /// its rules do not give BST in summer and GMT in winter.
    public static var londonZoneProblem: String? {
        guard let zone = loadedLondon else {
            return "the time zone Europe/London cannot be loaded: install the zone data (Debian's tzdata)"
        }
        let summer = Date(timeIntervalSince1970: 1_782_907_200)   // 2026-07-01 12:00 UTC
        let winter = Date(timeIntervalSince1970: 1_767_268_800)   // 2026-01-01 12:00 UTC
        guard zone.secondsFromGMT(for: summer) == 3600, zone.secondsFromGMT(for: winter) == 0 else {
            return "the time zone Europe/London gives wrong offsets (summer \(zone.secondsFromGMT(for: summer)) s, "
                + "winter \(zone.secondsFromGMT(for: winter)) s): update the zone data"
        }
        return nil
    }

    /// A point in time; nil when `text` is not a TS.
    static func date(_ text: String) -> Date? {
        guard let parts = parts(text), [8, 10, 12, 14].contains(parts.digits.count) else { return nil }
        let digits = parts.digits
        func number(_ range: Range<Int>) -> Int {
            guard range.upperBound <= digits.count else { return 0 }
            return digits[range].reduce(0) { $0 * 10 + $1 }
        }
        let (hour, minute, second) = (number(8..<10), number(10..<12), number(12..<14))
        guard let civil = CalendarDate(year: number(0..<4), month: number(4..<6), day: number(6..<8)),
              hour < 24, minute < 60, second < 60 else { return nil }
        let local = Double(civil.daysSince1970 * 86_400 + hour * 3600 + minute * 60 + second)
        if let offset = parts.offset { return Date(timeIntervalSince1970: local - Double(offset)) }
        // English local time: the offset in force at that moment (checked again across a change).
        let guess = local - Double(london.secondsFromGMT(for: Date(timeIntervalSince1970: local)))
        let offset = london.secondsFromGMT(for: Date(timeIntervalSince1970: guess))
        return Date(timeIntervalSince1970: local - Double(offset))
    }

    /// `yyyy-MM-dd HH:mm` in English local time (how a person writes a plan's start in the simulator's
    /// dataset), read as CP-IS's plan times are; nil for anything else. Read here rather than by a
    /// Foundation formatter, which no one has fuzzed (ICU died on a hostile timestamp elsewhere).
    public static func englishLocalTime(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        let separators: [Int: UInt8] = [4: UInt8(ascii: "-"), 7: UInt8(ascii: "-"), 10: UInt8(ascii: " "), 13: UInt8(ascii: ":")]
        guard bytes.count == 16, bytes.indices.allSatisfy({ index in
            separators[index].map { bytes[index] == $0 } ?? (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index])
        }) else { return nil }
        return date(String(decoding: bytes.indices.filter { separators[$0] == nil }.map { bytes[$0] }, as: UTF8.self))
    }

    /// A calendar date (birth dates), ignoring any time of day.
    static func calendarDate(_ text: String) -> CalendarDate? {
        guard let digits = parts(text)?.digits, digits.count >= 8 else { return nil }
        func number(_ range: Range<Int>) -> Int { digits[range].reduce(0) { $0 * 10 + $1 } }
        return CalendarDate(year: number(0..<4), month: number(4..<6), day: number(6..<8))
    }

    /// `yyyyMMddHHmmss` in UTC, without an offset (the transmission wrapper's `creationTime`).
    static func utcDigits(_ date: Date) -> String {
        digits(date, offset: 0, seconds: true)
    }

    /// `yyyyMMddHHmmss` in UTC, for the query's `effectiveTime`.
    static func timestamp(_ date: Date) -> String {
        digits(date, offset: 0, seconds: true) + "+0000"
    }

    /// `yyyyMMddHHmm` in English local time: how CP-IS sends plan dates.
    static func localMinutes(_ date: Date) -> String {
        digits(date, offset: london.secondsFromGMT(for: date), seconds: false)
    }

    /// `yyyyMMddHHmm[ss]` of `date` at `offset` seconds from UTC, by arithmetic (no Calendar).
    private static func digits(_ date: Date, offset: Int, seconds: Bool) -> String {
        let (day, milliseconds) = CalendarDate.split(date, offset: offset)
        let time = milliseconds / 1000
        return DigitFields.string { fields in
            fields.date(day)
            fields.append(time / 3600, width: 2)
            fields.append(time / 60 % 60, width: 2)
            if seconds { fields.append(time % 60, width: 2) }
        }
    }

    /// `yyyyMMdd`.
    static func string(_ date: CalendarDate) -> String {
        DigitFields.string { $0.date(date) }
    }

    /// The digits' values and the offset from UTC in seconds, if any; nil when `text` is not a TS.
    /// Read from the UTF-8 bytes: dozens of these are read per answer.
    private static func parts(_ text: String) -> (digits: [Int], offset: Int?)? {
        var digits: [Int] = []
        digits.reserveCapacity(14)
        var zone: [Int]?
        var sign = 1
        var inFraction = false
        let bytes = text.utf8.drop { $0 == UInt8(ascii: " ") }.reversed().drop { $0 == UInt8(ascii: " ") }.reversed()
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let value = Int(byte - UInt8(ascii: "0"))
                if zone != nil { zone!.append(value) } else if !inFraction { digits.append(value) }
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                guard zone == nil else { return nil }
                sign = byte == UInt8(ascii: "-") ? -1 : 1
                zone = []
            // Fractions of a second (".123") are allowed by TS; CP-IS does not send them.
            case UInt8(ascii: ".") where zone == nil && !inFraction:
                inFraction = true
            default:
                return nil
            }
        }
        guard let zone else { return (digits, nil) }
        guard zone.count == 4 else { return nil }
        return (digits, sign * ((zone[0] * 10 + zone[1]) * 3600 + (zone[2] * 10 + zone[3]) * 60))
    }
}
