/// Writes compact JSON straight into bytes: the worker writes a result and a notification for every
/// lookup, and Foundation's `JSONEncoder` cost more CPU than the rest of the lookup's JSON work
/// together. Members are written in the order given; strings are escaped as RFC 8259 requires.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    /// Whether the next member or element needs a comma before it.
    private var afterValue = false

    public init(capacity: Int = 1024) { bytes.reserveCapacity(capacity) }

    public mutating func object(_ members: (inout JSONWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        afterValue = false
        members(&self)
        bytes.append(UInt8(ascii: "}"))
        afterValue = true
    }

    /// A member of the object being written.
    public mutating func member(_ key: String, _ value: (inout JSONWriter) -> Void) {
        if afterValue { bytes.append(UInt8(ascii: ",")) }
        string(key)
        bytes.append(UInt8(ascii: ":"))
        value(&self)
        afterValue = true
    }

    public mutating func member(_ key: String, _ value: String?) { member(key) { $0.string(value) } }
    public mutating func member(_ key: String, _ value: Int) { member(key) { $0.number(value) } }
    public mutating func member(_ key: String, _ value: Bool) { member(key) { $0.bool(value) } }

    public mutating func array<Element>(_ elements: some Sequence<Element>, _ element: (inout JSONWriter, Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        afterValue = false
        for item in elements {
            if afterValue { bytes.append(UInt8(ascii: ",")) }
            element(&self, item)
            afterValue = true
        }
        bytes.append(UInt8(ascii: "]"))
        afterValue = true
    }

    public mutating func string(_ value: String?) {
        guard let value else { return null() }
        bytes.append(UInt8(ascii: "\""))
        defer {
            bytes.append(UInt8(ascii: "\""))
            afterValue = true
        }
        // Most strings (ids, codes, names, times) need no escape: appended whole, after one pass
        // over their contiguous bytes, rather than byte by byte.
        func needsEscape(_ byte: UInt8) -> Bool {
            byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
        }
        let plain = value.utf8.withContiguousStorageIfAvailable { !$0.contains(where: needsEscape) } ?? false
        guard !plain else { return bytes.append(contentsOf: value.utf8) }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), byte]
            case UInt8(ascii: "\n"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                          hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: bytes.append(byte)
            }
        }
    }

    public mutating func number(_ value: Int) {
        bytes += String(value).utf8
        afterValue = true
    }

    public mutating func bool(_ value: Bool) {
        bytes += (value ? "true" : "false").utf8
        afterValue = true
    }

    public mutating func null() {
        bytes += "null".utf8
        afterValue = true
    }
}
