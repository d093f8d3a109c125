/// A JSON value as read by ``JSONReader``.
enum JSONValue: Equatable {
    case object(JSONObject)
    case array([JSONValue])
    case string(String)
    /// As written (the contract's only numbers are counts).
    case number(String)
    case bool(Bool)
    case null
}

/// A JSON object's members in the order written; where a name repeats, the last one counts, as
/// in a dictionary. A request's objects have a handful of members each: looking through them costs
/// less than hashing every name into a dictionary, which was a third of reading a request.
struct JSONObject: Equatable, ExpressibleByDictionaryLiteral {
    struct Member: Equatable {
        let name: String
        let value: JSONValue
    }

    private(set) var members: [Member] = []

    init() {}

    init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = elements.map { Member(name: $0.0, value: $0.1) }
    }

    subscript(name: String) -> JSONValue? {
        members.last { $0.name == name }?.value
    }

    mutating func append(_ name: String, _ value: JSONValue) {
        members.append(Member(name: name, value: value))
    }
}

/// Reads JSON (RFC 8259) from UTF-8 bytes: the worker reads one request body per lookup, and
/// Foundation's `JSONDecoder` cost a tenth of a lookup's CPU. Numbers are checked and kept as
/// written. Nesting is limited, so a hostile body cannot exhaust the stack.
struct JSONReader {
    struct Invalid: Error {}

    private let bytes: [UInt8]
    private var index = 0
    private static let maximumDepth = 32

    static func read(_ bytes: some Collection<UInt8>) throws(Invalid) -> JSONValue {
        var reader = JSONReader(bytes: Array(bytes))
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.index == reader.bytes.count else { throw Invalid() }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func value(depth: Int) throws(Invalid) -> JSONValue {
        skipSpace()
        guard index < bytes.count, depth < Self.maximumDepth else { throw Invalid() }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var members = JSONObject()
            skipSpace()
            if take(UInt8(ascii: "}")) { return .object(members) }
            repeat {
                skipSpace()
                let key = try string()
                skipSpace()
                guard take(UInt8(ascii: ":")) else { throw Invalid() }
                members.append(key, try value(depth: depth + 1))
                skipSpace()
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "}")) else { throw Invalid() }
            return .object(members)
        case UInt8(ascii: "["):
            index += 1
            var elements: [JSONValue] = []
            skipSpace()
            if take(UInt8(ascii: "]")) { return .array(elements) }
            repeat {
                elements.append(try value(depth: depth + 1))
                skipSpace()
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "]")) else { throw Invalid() }
            return .array(elements)
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            let start = index
            try number()
            return .number(String(decoding: bytes[start..<index], as: UTF8.self))
        }
    }

    private mutating func string() throws(Invalid) -> String {
        guard take(UInt8(ascii: "\"")) else { throw Invalid() }
        // Most strings have no escapes: made straight from the bytes.
        let start = index
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 {
            end += 1
        }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            index = end + 1
            guard let string = String(validating: bytes[start..<end], as: UTF8.self) else { throw Invalid() }
            return string
        }
        var text = Array(bytes[start..<end])
        index = end
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let string = String(validating: text, as: UTF8.self) else { throw Invalid() }
                return string
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw Invalid() }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escape)
                case UInt8(ascii: "b"): text.append(0x08)
                case UInt8(ascii: "f"): text.append(0x0C)
                case UInt8(ascii: "n"): text.append(0x0A)
                case UInt8(ascii: "r"): text.append(0x0D)
                case UInt8(ascii: "t"): text.append(0x09)
                case UInt8(ascii: "u"): text += try unicodeEscape()
                default: throw Invalid()
                }
            case 0..<0x20:
                throw Invalid()
            default:
                text.append(byte)
            }
        }
        throw Invalid()
    }

    /// The UTF-8 of `\uXXXX` (the `\u` already read), with a surrogate pair's second half.
    private mutating func unicodeEscape() throws(Invalid) -> [UInt8] {
        var scalar = try hex4()
        if (0xD800..<0xDC00).contains(scalar) {
            guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")) else { throw Invalid() }
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw Invalid() }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let unicode = Unicode.Scalar(scalar) else { throw Invalid() }
        return Array(String(Character(unicode)).utf8)
    }

    private mutating func hex4() throws(Invalid) -> UInt32 {
        guard index + 4 <= bytes.count else { throw Invalid() }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { throw Invalid() }
            value = value * 16 + UInt32(digit)
        }
        index += 4
        return value
    }

    private mutating func number() throws(Invalid) {
        _ = take(UInt8(ascii: "-"))
        let integerStart = index
        let integerDigits = digits()
        // No leading zeros: "0" alone, or a digit 1-9 first.
        guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else { throw Invalid() }
        if take(UInt8(ascii: ".")) { guard digits() > 0 else { throw Invalid() } }
        if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
            _ = take(UInt8(ascii: "+")) || take(UInt8(ascii: "-"))
            guard digits() > 0 else { throw Invalid() }
        }
    }

    private mutating func digits() -> Int {
        let start = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        return index - start
    }

    private mutating func literal(_ word: String) throws(Invalid) {
        for byte in word.utf8 {
            guard take(byte) else { throw Invalid() }
        }
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }
}

/// The members of a JSON object, with its path in the body, for messages that name the field.
struct JSONFields {
    let path: String
    let members: JSONObject

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func string(_ key: String) throws(ContractError) -> String {
        try required(key, try optionalString(key))
    }

    func optionalString(_ key: String) throws(ContractError) -> String? {
        switch members[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw ContractError("\(name(key)) must be a string")
        }
    }

    func object(_ key: String) throws(ContractError) -> JSONFields {
        try required(key, try optionalObject(key))
    }

    /// `value`, or an error saying whether `key` is missing or null.
    private func required<Value>(_ key: String, _ value: Value?) throws(ContractError) -> Value {
        guard let value else {
            throw ContractError(members[key] == nil ? "\(name(key)) is missing" : "\(name(key)) is null: give it a value")
        }
        return value
    }

    func optionalObject(_ key: String) throws(ContractError) -> JSONFields? {
        switch members[key] {
        case nil, .null?: return nil
        case .object(let members)?: return JSONFields(path: name(key), members: members)
        default: throw ContractError("\(name(key)) must be an object")
        }
    }

    /// An array of objects; empty when missing or null.
    func objects(_ key: String) throws(ContractError) -> [JSONFields] {
        switch members[key] {
        case nil, .null?: return []
        case .array(let elements)?:
            var objects: [JSONFields] = []
            for (index, element) in elements.enumerated() {
                guard case .object(let members) = element else { throw ContractError("\(name(key))[\(index)] must be an object") }
                objects.append(JSONFields(path: "\(name(key))[\(index)]", members: members))
            }
            return objects
        default: throw ContractError("\(name(key)) must be an array")
        }
    }

    func int(_ key: String) throws(ContractError) -> Int {
        guard case .number(let text)? = members[key], let value = Int(text) else {
            throw ContractError("\(name(key)) must be a whole number")
        }
        return value
    }

    func bool(_ key: String) throws(ContractError) -> Bool {
        guard case .bool(let value)? = members[key] else { throw ContractError("\(name(key)) must be true or false") }
        return value
    }
}
