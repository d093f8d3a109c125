/// Where ``HTTPParser`` reads bytes from: a ``Connection``, or bytes in memory (``HTTPMessageReader``).
protocol ByteSource {
    /// Reads what is available, waiting until the deadline for at least one byte: a count, 0 at
    /// the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws(IOError) -> Int
}

extension Connection: ByteSource {}

/// Reads HTTP/1.1 messages (RFC 9112) from a ``Connection``: request and status lines, header
/// fields, and bodies framed by Content-Length, chunked transfer coding or (responses only) the
/// end of the connection. Shared by the client (responses) and the server (requests).
///
/// One parser per connection, kept across the messages on it, because the bytes after one message
/// (a pipelined request) belong to the next. Strict on purpose: lines end in CRLF, header names are
/// tokens, no white space before the colon, no obsolete line folding, and conflicting or
/// ambiguous framing is rejected, so that the client and server never disagree with a proxy about
/// where a message ends.
struct HTTPParser {
    /// A start line split into its three parts, and the header fields.
    struct Head {
        /// Request: method, target, version. Response: version, status code, reason phrase.
        var startLine: (String, String, String)
        var headers: HTTPHeaders

        /// The HTTP version of a request head ("HTTP/1.1" or "HTTP/1.0").
        var requestVersion: String { startLine.2 }
    }

    /// How a message's body is delimited.
    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
        /// The body runs until the peer closes the connection (responses without a length only).
        case untilClose
    }

    /// Why reading a message failed.
    enum Failure: Error {
        case io(IOError)
        /// The stream ended inside a message.
        case truncated
        case malformed(String)
        case headTooLarge
        case bodyTooLarge
        /// Valid HTTP this module does not implement (e.g. a transfer coding other than chunked).
        case unsupported(String)
        case unsupportedVersion(String)
    }

    private let maximumHeadBytes: Int
    private var buffer: [UInt8] = []
    /// Bytes before this index have been consumed.
    private var position = 0

    init(maximumHeadBytes: Int) {
        self.maximumHeadBytes = maximumHeadBytes
    }

    /// Whether bytes of a next message have already arrived.
    var hasBufferedBytes: Bool { position < buffer.count }

    // MARK: - Heads

    /// Reads a head up to its blank line; `nil` if the stream ended cleanly before its first byte.
    mutating func readHead(from connection: some ByteSource, deadline: Deadline) throws(Failure) -> Head? {
        // How far past `position` the search for the blank line has got: an offset, because `fill`
        // may move the unconsumed bytes to the front of the buffer.
        var scanned = 0
        while true {
            if skipLeadingLineBreaks() { scanned = 0 }
            if let end = try headEnd(scanned: &scanned) {
                let head = try Self.splitHead(buffer[position..<end])
                position = end + 4
                return head
            }
            // Every place where a head within the limit could end has been searched.
            guard buffer.count - position < maximumHeadBytes + 4 else { throw .headTooLarge }
            let wasEmpty = !hasBufferedBytes
            guard try fill(from: connection, deadline: deadline) else {
                if wasEmpty { return nil }
                throw .truncated
            }
        }
    }

    /// A request's method, target and version from its head.
    static func requestLine(_ head: Head) throws(Failure) -> (method: String, target: String, version: String) {
        let (method, target, version) = head.startLine
        guard !method.isEmpty, method.utf8.allSatisfy(isTokenCharacter) else {
            throw .malformed("the method \"\(method)\" is not a token")
        }
        guard !target.isEmpty, target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .malformed("the request target is empty or holds control characters")
        }
        try checkVersion(version)
        return (method, target, version)
    }

    /// A response's status code, reason phrase and version from its head.
    static func statusLine(_ head: Head) throws(Failure) -> (status: Int, reason: String, version: String) {
        let (version, code, reason) = head.startLine
        try checkVersion(version)
        guard code.utf8.count == 3, code.utf8.allSatisfy(isDigit), let status = Int(code) else {
            throw .malformed("the status code \"\(code)\" is not three digits")
        }
        return (status, reason, version)
    }

    private static func checkVersion(_ version: String) throws(Failure) {
        if version == "HTTP/1.1" || version == "HTTP/1.0" { return }
        if version.hasPrefix("HTTP/") { throw .unsupportedVersion(version) }
        throw .malformed("\"\(version)\" is not an HTTP version")
    }

    /// Whether the connection may carry another message after this one (RFC 9112 section 9.3).
    static func keepsAlive(version: String, headers: HTTPHeaders) -> Bool {
        if headers.contains("Connection", token: "close") { return false }
        return version == "HTTP/1.1" || headers.contains("Connection", token: "keep-alive")
    }

    // MARK: - Framing

    /// How a request's body is delimited: chunked, a length, or none (a request never runs to the
    /// end of the connection).
    static func requestFraming(_ headers: HTTPHeaders) throws(Failure) -> Framing {
        if headers["Transfer-Encoding"] != nil {
            // Both at once is the classic request-smuggling ambiguity (RFC 9112 section 6.3).
            guard headers["Content-Length"] == nil else {
                throw .malformed("a request has both Transfer-Encoding and Content-Length")
            }
            return try transferCoding(headers)
        }
        return try contentLength(headers).map(Framing.length) ?? .none
    }

    /// How a response's body is delimited, given the request it answers (RFC 9112 section 6.3).
    static func responseFraming(status: Int, requestMethod: String, headers: HTTPHeaders) throws(Failure) -> Framing {
        if requestMethod == "HEAD" || (100..<200).contains(status) || status == 204 || status == 304 { return .none }
        if headers["Transfer-Encoding"] != nil { return try transferCoding(headers) }
        return try contentLength(headers).map(Framing.length) ?? .untilClose
    }

    private static func transferCoding(_ headers: HTTPHeaders) throws(Failure) -> Framing {
        let codings = headers.values(for: "Transfer-Encoding")
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingSpaces.lowercased() }
        guard codings == ["chunked"] else {
            throw .unsupported("transfer coding \"\(codings.joined(separator: ", "))\" (only chunked is supported)")
        }
        return .chunked
    }

    /// The Content-Length, if any: exactly one, digits only. A repeated one is refused even when the
    /// copies agree (RFC 9112 section 6.3 allows a recipient to refuse it), so that no proxy in front
    /// can read the message another way.
    private static func contentLength(_ headers: HTTPHeaders) throws(Failure) -> Int? {
        let values = headers.values(for: "Content-Length").flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { String($0.trimmingSpaces) }
        guard let value = values.first else { return nil }
        guard values.count == 1, (1...18).contains(value.utf8.count), value.utf8.allSatisfy(isDigit), let length = Int(value) else {
            throw .malformed("invalid Content-Length \"\(values.joined(separator: ", "))\"")
        }
        return length
    }

    // MARK: - Bodies

    /// Reads a body of at most `limit` bytes (after removing the chunked coding).
    mutating func readBody(_ framing: Framing, limit: Int, from connection: some ByteSource, deadline: Deadline) throws(Failure) -> [UInt8] {
        switch framing {
        case .none:
            return []
        case .length(let length):
            guard length <= limit else { throw .bodyTooLarge }
            return try readExactly(length, from: connection, deadline: deadline)
        case .chunked:
            return try readChunked(limit: limit, from: connection, deadline: deadline)
        case .untilClose:
            // Checked before the first read too: the body may have come with the head.
            repeat {
                guard buffer.count - position <= limit else { throw .bodyTooLarge }
            } while try fill(from: connection, deadline: deadline)
            defer { position = buffer.count }
            return Array(buffer[position...])
        }
    }

    private mutating func readChunked(limit: Int, from connection: some ByteSource, deadline: Deadline) throws(Failure) -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let sizeLine = try readLine(from: connection, deadline: deadline)
            // Chunk extensions (";name=value") carry nothing this module uses. White space may come
            // only before an extension's ";" (RFC 9112 section 7.1.1), never around a bare size.
            let parts = sizeLine.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
            let sizeText = parts.count == 2 ? Substring(parts[0].trimmingSpaces) : parts[0]
            // Hex digits only: `Int(_:radix:)` would also accept a sign.
            guard (1...15).contains(sizeText.utf8.count), sizeText.utf8.allSatisfy(Self.isHexDigit),
                  let size = Int(sizeText, radix: 16)
            else {
                throw .malformed("invalid chunk size \"\(sizeLine)\"")
            }
            if size == 0 { break }
            guard size <= limit - body.count else { throw .bodyTooLarge }
            body += try readExactly(size, from: connection, deadline: deadline)
            guard try readLine(from: connection, deadline: deadline).isEmpty else {
                throw .malformed("a chunk is longer than its size")
            }
        }
        // Trailer fields, ignored, up to the blank line.
        var trailerBytes = 0
        while case let line = try readLine(from: connection, deadline: deadline), !line.isEmpty {
            trailerBytes += line.utf8.count
            guard trailerBytes <= maximumHeadBytes else { throw .headTooLarge }
        }
        return body
    }

    private mutating func readExactly(_ count: Int, from connection: some ByteSource, deadline: Deadline) throws(Failure) -> [UInt8] {
        while buffer.count - position < count {
            guard try fill(from: connection, deadline: deadline) else { throw .truncated }
        }
        defer { position += count }
        return Array(buffer[position..<position + count])
    }

    /// One CRLF-terminated line (without the CRLF) of a chunked body, at most 1 KiB with its CR.
    private mutating func readLine(from connection: some ByteSource, deadline: Deadline) throws(Failure) -> String {
        let longest = 1024
        var scanned = 0  // an offset from `position`, as in `readHead`
        while true {
            // The line feed is looked for no further than the longest line puts it, so that a longer
            // line is refused however its bytes arrive.
            let searchEnd = min(buffer.count, position + longest + 1)
            if let end = buffer[(position + scanned)..<searchEnd].firstIndex(of: UInt8(ascii: "\n")) {
                guard end > position, buffer[end - 1] == UInt8(ascii: "\r") else {
                    throw .malformed("a line of a chunked body does not end in CRLF")
                }
                defer { position = end + 1 }
                return String(decoding: buffer[position..<end - 1], as: UTF8.self)
            }
            scanned = searchEnd - position
            guard scanned <= longest else { throw .malformed("a line of a chunked body is too long") }
            guard try fill(from: connection, deadline: deadline) else { throw .truncated }
        }
    }

    // MARK: - Buffer

    /// Reads more bytes into the buffer; `false` at the end of the stream.
    private mutating func fill(from connection: some ByteSource, deadline: Deadline) throws(Failure) -> Bool {
        // Drop consumed bytes once they are the larger part, so the buffer does not grow forever.
        if position > 0, position >= buffer.count - position {
            buffer.removeFirst(position)
            position = 0
        }
        // Read into temporary (stack) space rather than a buffer of the parser's own: a parser lives
        // for one exchange, and a heap buffer per exchange cost an allocation and its zeroing.
        // The closure rethrows untyped errors, so the typed error travels in a Result.
        let read = withUnsafeTemporaryAllocation(byteCount: 16 * 1024, alignment: 1) { space in
            Result { () throws(IOError) in
                let count = try connection.read(into: space, deadline: deadline)
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: space[..<count]))
                return count
            }
        }
        switch read {
        case .success(let count): return count > 0
        case .failure(let error): throw .io(error)
        }
    }

    /// Some clients send a CRLF after a request body; RFC 9112 section 2.2 says to ignore blank
    /// lines before a request line. Whether any were skipped.
    private mutating func skipLeadingLineBreaks() -> Bool {
        let start = position
        while buffer.count - position >= 2, buffer[position] == UInt8(ascii: "\r"), buffer[position + 1] == UInt8(ascii: "\n") {
            position += 2
        }
        return position != start
    }

    /// The index of the CRLFCRLF ending the head, searching only bytes not searched before
    /// (`scanned` is an offset from `position`), and no further than where the end of a head of
    /// `maximumHeadBytes` starts: what is found must not depend on how many bytes have arrived.
    ///
    /// A line feed without its carriage return is refused as soon as it arrives: a head of bare
    /// line feeds would otherwise never end, and hold the connection until its timeout.
    private func headEnd(scanned: inout Int) throws(Failure) -> Int? {
        var index = position + max(0, scanned - 3)
        while index + 4 <= buffer.count, index - position <= maximumHeadBytes {
            if buffer[index] == 13, buffer[index + 1] == 10, buffer[index + 2] == 13, buffer[index + 3] == 10 {
                return index
            }
            if buffer[index + 1] == 10, buffer[index] != 13 { throw .malformed("a line ends in LF without CR") }
            index += 1
        }
        scanned = buffer.count - position
        return nil
    }

    /// Splits a head (without its final CRLFCRLF) into the start line and header fields. Works on
    /// the bytes and makes strings only of the parts kept: a head is read for every SMSP call.
    private static func splitHead(_ bytes: ArraySlice<UInt8>) throws(Failure) -> Head {
        let lines = try lines(of: bytes)
        let parts = lines[0].split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw .malformed("the start line \"\(text(lines[0].prefix(80)))\" does not have three parts")
        }
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformed("a header line has no colon") }
            let name = line[..<colon]
            guard !name.isEmpty, name.allSatisfy(isTokenCharacter) else {
                // Also catches white space before the colon and obsolete line folding (RFC 9112 section 5).
                throw .malformed("invalid header name \"\(text(name.prefix(80)))\"")
            }
            let isSpace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
            var value = line[line.index(after: colon)...]
            while let first = value.first, isSpace(first) { value.removeFirst() }
            while let last = value.last, isSpace(last) { value.removeLast() }
            headers.add(name: text(name), value: text(value))
        }
        return Head(startLine: (text(parts[0]), text(parts[1]), parts.count == 3 ? text(parts[2]) : ""), headers: headers)
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// The lines of a head: every line but the last must end in CRLF (the last one's CRLF is part
    /// of the terminating CRLFCRLF); no line may hold a NUL or a bare CR.
    private static func lines(of head: ArraySlice<UInt8>) throws(Failure) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = head.startIndex
        while true {
            let lineFeed = head[start...].firstIndex(of: UInt8(ascii: "\n"))
            var line = head[start..<(lineFeed ?? head.endIndex)]
            if lineFeed != nil {
                guard line.last == UInt8(ascii: "\r") else { throw .malformed("a line ends in LF without CR") }
                line.removeLast()
            }
            guard !line.contains(where: { $0 == 0 || $0 == UInt8(ascii: "\r") }) else {
                throw .malformed("a line holds a NUL or a bare CR")
            }
            lines.append(line)
            guard let lineFeed else { return lines }
            start = head.index(after: lineFeed)
        }
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
    }

    /// RFC 9110 `tchar`: the characters of methods and header names.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
