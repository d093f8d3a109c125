/// XML text built by string interpolation in which every interpolated `String` is escaped, so a
/// value can never change the document's structure; nested `XMLMarkup` is inserted as it is.
///
///     let name = "Tom & Jerry <script>"
///     let markup: XMLMarkup = "<name>\(name)</name>"   // <name>Tom &amp; Jerry &lt;script&gt;</name>
///
/// Characters XML 1.0 cannot carry at all (most C0 controls) are replaced with U+FFFD.
public struct XMLMarkup: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringInterpolation {
    public private(set) var text: String

    public init(stringLiteral value: String) { text = value }

    public init(stringInterpolation: StringInterpolation) { text = stringInterpolation.text }

    public var description: String { text }

    /// Markup made of `parts`, one after another.
    public init(joining parts: some Sequence<XMLMarkup>) {
        text = parts.map(\.text).joined()
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var text = ""

        public init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + interpolationCount * 64)
        }

        public mutating func appendLiteral(_ literal: String) { text += literal }

        /// Escaped for both element content and attribute values.
        public mutating func appendInterpolation(_ value: String) { text += XMLMarkup.escape(value) }

        public mutating func appendInterpolation(_ value: some BinaryInteger) { text += String(value) }

        public mutating func appendInterpolation(_ markup: XMLMarkup) { text += markup.text }

        /// Nothing when nil: for optional elements.
        public mutating func appendInterpolation(_ markup: XMLMarkup?) { text += markup?.text ?? "" }

        /// `<name>value</name>` with the value escaped, or nothing when it is nil: an optional
        /// element written in place, without a markup value of its own.
        public mutating func appendInterpolation(element name: String, _ value: String?) {
            guard let value else { return }
            text += "<"
            text += name
            text += ">"
            text += XMLMarkup.escape(value)
            text += "</"
            text += name
            text += ">"
        }
    }

    public static func escape(_ value: String) -> String {
        // Most values (ids, codes, names) need nothing: return them as they are. (0xEF leads the
        // UTF-8 of U+FFFE and U+FFFF.)
        func needsEscaping(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "&"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\""), UInt8(ascii: "'"), 0xEF:
                true
            case 0..<0x20: byte != UInt8(ascii: "\t") && byte != UInt8(ascii: "\n") && byte != UInt8(ascii: "\r")
            default: false
            }
        }
        // Over the string's contiguous bytes where it has them (a native string does): an iterator
        // over the UTF-8 view cost more than the rest of building a request's values.
        let needsWork = value.utf8.withContiguousStorageIfAvailable { $0.contains(where: needsEscaping) }
            ?? value.utf8.contains(where: needsEscaping)
        guard needsWork else { return value }
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            case "\t", "\n", "\r": escaped.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF:
                escaped += "\u{FFFD}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
