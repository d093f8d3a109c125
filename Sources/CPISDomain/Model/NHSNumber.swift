import Foundation

/// A valid NHS number (ISB 0149): ten digits whose last is the modulus 11 check digit of the others.
///
/// Printing one (`description`, string interpolation) masks it, so that it cannot reach a log line by
/// accident; the digits themselves are in `digits`, the display form in `formatted`.
public struct NHSNumber: Sendable, Hashable, CustomStringConvertible {
    /// The ten digits, no separators.
    public let digits: String

    /// Accepts ten digits, optionally grouped with spaces or hyphens ("943 476 5919", "943-476-5919").
    public init(_ text: String) throws(NHSNumberError) {
        let trimmed = text.trimmed
        guard !trimmed.isEmpty else { throw .empty }
        var digits: [UInt8] = []
        for byte in trimmed.utf8 {
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                digits.append(byte - UInt8(ascii: "0"))
            } else if byte != UInt8(ascii: " ") && byte != UInt8(ascii: "-") {
                throw .invalidCharacters
            }
        }
        guard digits.count == 10 else { throw .wrongLength(digits.count) }
        let weighted = zip(digits.prefix(9), (2...10).reversed()).reduce(0) { $0 + Int($1.0) * $1.1 }
        let check = 11 - weighted % 11
        guard check != 10, (check == 11 ? 0 : check) == Int(digits[9]) else { throw .wrongCheckDigit }
        self.digits = String(decoding: digits.map { $0 + UInt8(ascii: "0") }, as: UTF8.self)
    }

    /// 3-3-4 with spaces, as people read it: "943 476 5919".
    public var formatted: String {
        let characters = Array(digits)
        return "\(String(characters[0..<3])) \(String(characters[3..<6])) \(String(characters[6..<10]))"
    }

    /// For logs: only the last four digits show ("*** *** 5919").
    public var masked: String { Self.masked(digits: digits) }

    /// Any digits shown as ``masked`` shows an NHS number's: an answer's number that may not be valid.
    public static func masked(digits: String) -> String { "*** *** \(digits.suffix(4))" }

    /// The digits of an NHS number as another system wrote it (spaces, hyphens and all), unchecked: what
    /// an answer names, to compare with ``digits``.
    public static func digits(of text: String) -> String { text.filter { $0.isASCII && $0.isNumber } }

    public var description: String { masked }

    /// In the never-issued 999 range reserved for test data.
    public var isTestNumber: Bool { digits.hasPrefix("999") }
}

/// Why a text is not an NHS number, in words the sender can act on.
public enum NHSNumberError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case invalidCharacters
    case wrongLength(Int)
    case wrongCheckDigit

    public var description: String {
        switch self {
        case .empty: "the NHS number is empty"
        case .invalidCharacters: "the NHS number may contain only digits, spaces and hyphens"
        case .wrongLength(let count): "an NHS number has 10 digits, this one has \(count)"
        case .wrongCheckDigit: "the NHS number's check digit is wrong: check it was typed correctly"
        }
    }
}
