/// XML text built by string interpolation in which every interpolated `String` is escaped, so a
/// value can never change the document's structure; nested `XMLMarkup` is inserted as it is.
///
///     let name = "Tom & Jerry <script>"
///     let markup: XMLMarkup = "<name>\(name)</name>"   // <name>Tom &amp; Jerry &lt;script&gt;</name>
///
/// Characters XML 1.0 cannot carry at all (most C0 controls) are replaced with U+FFFD.
public struct XMLMarkup: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// The markup as UTF-8: built as bytes, because appending to a `String` (its bookkeeping
    /// at every append) cost more than the rest of building a request.
    public private(set) var utf8: [UInt8]

    /// The markup as text.
    public var text: String { String(decoding: utf8, as: UTF8.self) }

    public init(stringLiteral value: String) { utf8 = Array(value.utf8) }

    public init(stringInterpolation: StringInterpolation) { utf8 = stringInterpolation.utf8 }

    public var description: String { text }

    /// Markup made of `parts`, one after another.
    public init(joining parts: some Sequence<XMLMarkup>) {
        utf8 = Array(parts.map(\.utf8).joined())
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var utf8: [UInt8] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            utf8.reserveCapacity(literalCapacity + interpolationCount * 64)
        }

        public mutating func appendLiteral(_ literal: String) { utf8.append(contentsOf: literal.utf8) }

        /// Escaped for both element content and attribute values.
        public mutating func appendInterpolation(_ value: String) { XMLMarkup.appendEscaped(value, to: &utf8) }

        public mutating func appendInterpolation(_ value: some BinaryInteger) { utf8.append(contentsOf: String(value).utf8) }

        public mutating func appendInterpolation(_ markup: XMLMarkup) { utf8.append(contentsOf: markup.utf8) }

        /// Nothing when nil: for optional elements.
        public mutating func appendInterpolation(_ markup: XMLMarkup?) {
            if let markup { utf8.append(contentsOf: markup.utf8) }
        }

        /// `<name>value</name>` with the value escaped, or nothing when it is nil: an optional
        /// element written in place, without a markup value of its own.
        public mutating func appendInterpolation(element name: String, _ value: String?) {
            guard let value else { return }
            utf8.append(UInt8(ascii: "<"))
            utf8.append(contentsOf: name.utf8)
            utf8.append(UInt8(ascii: ">"))
            XMLMarkup.appendEscaped(value, to: &utf8)
            utf8.append(contentsOf: "</".utf8)
            utf8.append(contentsOf: name.utf8)
            utf8.append(UInt8(ascii: ">"))
        }
    }

    /// The bytes below 64 that need escaping or replacing, one bit each: the C0 controls but tab,
    /// line feed and carriage return, and `"`, `&`, `'`, `<`, `>`.
    private static let escapedBelow64: UInt64 = {
        var mask = (UInt64(1) << 0x20) - 1
        for allowed in [0x09, 0x0A, 0x0D] { mask &= ~(UInt64(1) << allowed) }
        for special in [0x22, 0x26, 0x27, 0x3C, 0x3E] { mask |= UInt64(1) << special }
        return mask
    }()

    /// Appends `value` escaped for both element content and attribute values.
    static func appendEscaped(_ value: String, to utf8: inout [UInt8]) {
        // Most values (ids, codes, names) need nothing: appended as they are. One bit test a byte,
        // for a request's many values. (0xEF leads the UTF-8 of U+FFFE and U+FFFF.)
        let mask = escapedBelow64
        func needsEscaping(_ byte: UInt8) -> Bool {
            byte < 64 ? (mask >> byte) & 1 == 1 : byte == 0xEF
        }
        // Over the string's contiguous bytes where it has them (a native string does): an iterator
        // over the UTF-8 view cost more than the rest of building a request's values.
        let needsWork = value.utf8.withContiguousStorageIfAvailable { $0.contains(where: needsEscaping) }
            ?? value.utf8.contains(where: needsEscaping)
        guard needsWork else { return utf8.append(contentsOf: value.utf8) }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": utf8.append(contentsOf: "&amp;".utf8)
            case "<": utf8.append(contentsOf: "&lt;".utf8)
            case ">": utf8.append(contentsOf: "&gt;".utf8)
            case "\"": utf8.append(contentsOf: "&quot;".utf8)
            case "'": utf8.append(contentsOf: "&apos;".utf8)
            case "\t", "\n", "\r": utf8.append(UInt8(scalar.value))
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF:
                utf8.append(contentsOf: "\u{FFFD}".utf8)
            default: Unicode.UTF8.encode(scalar).map { utf8.append(contentsOf: $0) }
            }
        }
    }
}
