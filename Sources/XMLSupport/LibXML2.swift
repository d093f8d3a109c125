internal import CLibXML2

/// The glue every XMLSupport type shares: libxml2's one-time initialisation and copying strings
/// out of its memory.
enum LibXML2 {
    // libxml2 must be initialised once before it is used from several threads. A static stored
    // property is initialised exactly once, thread-safely, on first use.
    private static let initialised: Void = xmlInitParser()

    /// Initialises libxml2 if that has not happened yet. Every public entry point that does not
    /// already hold a parsed document calls this first.
    static func initialise() {
        _ = initialised
    }

    /// A copy of a NUL-terminated UTF-8 string owned by libxml2, or nil for a null pointer.
    static func string(_ pointer: UnsafePointer<xmlChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    /// A copy of a string libxml2 allocated for the caller, which is then freed.
    static func takeString(_ pointer: UnsafeMutablePointer<xmlChar>?) -> String? {
        defer { cpis_xml_free(pointer) }
        return string(pointer)
    }

    /// `message` without the newline libxml2 ends its messages with.
    static func trimmed(_ message: String) -> String {
        var message = Substring(message)
        while let last = message.last, last.isWhitespace {
            message.removeLast()
        }
        return String(message)
    }
}

/// Collects the errors libxml2 reports, instead of letting it print them to stderr.
///
/// libxml2 hands errors to a structured-error callback with a user-data pointer; the pointer given
/// is this object, unretained, so the collector must outlive the libxml2 call it is attached to
/// (``capturing(_:)`` guarantees that for the calls made in its body).
final class LibXML2ErrorCollector {
    /// The first errors reported, at most ``XMLError/maximumIssueCount``. Warnings are not kept.
    private(set) var issues: [XMLError.Issue] = []

    /// The pointer to give libxml2 as the callback's user data.
    var userData: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// The callback to give libxml2, with ``userData``.
    static let handler: xmlStructuredErrorFunc = { userData, error in
        guard let userData, let error else { return }
        Unmanaged<LibXML2ErrorCollector>.fromOpaque(userData).takeUnretainedValue().record(error.pointee)
    }

    /// Records an error libxml2 reported (not called by libxml2 itself: see ``handler``).
    func record(_ error: xmlError) {
        guard error.level.rawValue >= XML_ERR_ERROR.rawValue, issues.count < XMLError.maximumIssueCount else {
            return
        }
        var message = LibXML2.trimmed(error.message.map { String(cString: $0) } ?? "unknown libxml2 error")
        // Schema compilation reads several files: say which one the line is in.
        if let file = error.file.map({ String(cString: $0) }) {
            message = "\(file): \(message)"
        }
        issues.append(XMLError.Issue(line: error.line > 0 ? Int(error.line) : nil, message: message))
    }

    /// Runs `body` with this collector as the current thread's libxml2 structured-error handler.
    ///
    /// Most libxml2 errors go to a per-context handler, which callers set where the API offers one;
    /// some (encoding conversion, entity loading) are raised with no context and would otherwise go
    /// to the thread's default handler, which prints to stderr. The handler is per thread in
    /// libxml2, and `body` is synchronous, so this affects nothing running on other threads; the
    /// previous handler is restored afterwards.
    func capturing<Result, Failure: Error>(_ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        let savedHandler = __xmlStructuredError().pointee
        let savedContext = __xmlStructuredErrorContext().pointee
        xmlSetStructuredErrorFunc(userData, Self.handler)
        defer { xmlSetStructuredErrorFunc(savedContext, savedHandler) }
        return try withExtendedLifetime(self) { () throws(Failure) -> Result in try body() }
    }
}
