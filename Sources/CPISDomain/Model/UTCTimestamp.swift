import Foundation

/// RFC 3339 timestamps in UTC with milliseconds ("2026-11-24T14:30:00.123Z"): the contract's JSON
/// and WS-Security's `wsu:Created`/`wsu:Expires` both use this form. Written by arithmetic, not a
/// formatter: a result with a full access history carries dozens of them, and Foundation's
/// formatters dominated the cost of writing it.
public enum UTCTimestamp {
    public static func string(_ date: Date) -> String {
        let (day, time) = CalendarDate.split(date)
        return DigitFields.string { fields in
            fields.date(day, separator: "-")
            fields.append("T")
            fields.append(time / 3_600_000, width: 2)
            fields.append(":")
            fields.append(time / 60_000 % 60, width: 2)
            fields.append(":")
            fields.append(time / 1000 % 60, width: 2)
            fields.append(".")
            fields.append(time % 1000, width: 3)
            fields.append("Z")
        }
    }
}

extension UTCTimestamp {
    /// Reads an XML Schema `dateTime` with its zone, as WS-Security's `wsu:Created`/`wsu:Expires`
    /// and the contract's times are written: `yyyy-MM-ddTHH:mm:ss[.fraction]` then `Z` or `±HH:MM`
    /// (at most 14:00 from UTC, as XML Schema allows); nil for anything else, a time without a zone
    /// included (which instant it means is unknown).
    ///
    /// The one reader of timestamps from outside: every byte is checked here, and nothing is handed
    /// to Foundation's or ICU's date parsers (ICU died with SIGFPE on a long fraction holding a stray
    /// character, stopping the front door). The fraction may have any number of digits (XML Schema
    /// sets no limit); those past the nanosecond are checked but do not count. Fuzzed on its own
    /// (Sources/Fuzz/timestamp).
    public static func date(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20 else { return nil }
        func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        /// The value of a few digits (never more than nine: an Int holds them).
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard isDigit(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        // The zone: "Z", or "+HH:MM" / "-HH:MM" at the end.
        var end = bytes.count
        var offset = 0
        if bytes[end - 1] == UInt8(ascii: "Z") {
            end -= 1
        } else {
            let zone = end - 6
            guard zone >= 19, bytes[zone] == UInt8(ascii: "+") || bytes[zone] == UInt8(ascii: "-"),
                  bytes[zone + 3] == UInt8(ascii: ":"),
                  let hours = number(zone + 1..<zone + 3), let minutes = number(zone + 4..<zone + 6),
                  minutes < 60, hours * 60 + minutes <= 14 * 60
            else { return nil }
            offset = (hours * 3600 + minutes * 60) * (bytes[zone] == UInt8(ascii: "-") ? -1 : 1)
            end = zone
        }
        let separators: [(Int, Unicode.Scalar)] = [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":")]
        guard separators.allSatisfy({ bytes[$0.0] == UInt8(ascii: $0.1) }),
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              let civil = CalendarDate(year: year, month: month, day: day), hour < 24, minute < 60, second < 60
        else { return nil }
        var fraction = 0.0
        if end > 19 {
            // ".d...d": every digit checked, at most nine read (more would overflow an Int).
            let digitCount = end - 20
            guard bytes[19] == UInt8(ascii: "."), digitCount > 0, bytes[20..<end].allSatisfy(isDigit) else { return nil }
            let read = min(digitCount, 9)
            guard let digits = number(20..<(20 + read)) else { return nil }
            fraction = Double(digits) / pow(10, Double(read))
        }
        let seconds = civil.daysSince1970 * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
}

/// Zero-padded decimal fields and separators written straight into a string's bytes. Timestamps are
/// written several times per lookup, and joining small strings cost microseconds each.
struct DigitFields {
    /// Room for any fields written here: the widest, a year of 19 digits, leaves plenty.
    private static let capacity = 64
    private let bytes: UnsafeMutableBufferPointer<UInt8>
    private var count = 0

    private init(bytes: UnsafeMutableBufferPointer<UInt8>) { self.bytes = bytes }

    static func string(_ write: (inout DigitFields) -> Void) -> String {
        // Written on the stack, then copied once into the string.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            var fields = DigitFields(bytes: buffer)
            write(&fields)
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[..<fields.count]), as: UTF8.self)
        }
    }

    private mutating func append(byte: UInt8) {
        precondition(count < Self.capacity, "DigitFields holds at most \(Self.capacity) bytes")
        bytes[count] = byte
        count += 1
    }

    /// `value`'s digits, with leading zeros up to `width` (more digits where it has more).
    mutating func append(_ value: Int, width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        guard value >= 0, value < divisor * 10 else {
            let digits = String(value).utf8
            for _ in 0..<max(0, width - digits.count) { append(byte: UInt8(ascii: "0")) }
            for digit in digits { append(byte: digit) }
            return
        }
        while divisor > 0 {
            append(byte: UInt8(ascii: "0") + UInt8(value / divisor % 10))
            divisor /= 10
        }
    }

    mutating func append(_ separator: Unicode.Scalar) {
        append(byte: UInt8(ascii: separator))
    }

    /// `yyyy<separator>MM<separator>dd`, or `yyyyMMdd` without a separator.
    mutating func date(_ date: CalendarDate, separator: Unicode.Scalar? = nil) {
        append(date.year, width: 4)
        if let separator { append(separator) }
        append(date.month, width: 2)
        if let separator { append(separator) }
        append(date.day, width: 2)
    }
}

/// Calendar arithmetic for the hot paths that cannot afford `Calendar`: days since 1970-01-01 and
/// back (Howard Hinnant's civil-date algorithms, proleptic Gregorian).
extension CalendarDate {
    init(daysSince1970 days: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        self.init(year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month,
                  day: dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)!
    }

    var daysSince1970: Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `date` falls on, and how far into it (ms), at `offset` seconds from UTC. To the nearest
    /// millisecond: a time read from "….120Z" is held as a Double a hair below or above .120, and
    /// rounding down wrote some back as ….119 (fuzzing the timestamp reader found it).
    static func split(_ date: Date, offset: Int = 0) -> (day: CalendarDate, millisecondOfDay: Int) {
        let milliseconds = Int((date.timeIntervalSince1970 * 1000).rounded()) + offset * 1000
        let (days, time) = milliseconds.quotientAndRemainder(dividingBy: 86_400_000)
        return time < 0 ? (CalendarDate(daysSince1970: days - 1), time + 86_400_000)
                        : (CalendarDate(daysSince1970: days), time)
    }

    static func length(ofMonth month: Int, in year: Int) -> Int {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }
}
