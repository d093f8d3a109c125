// Every file imports libxml2 `internal`ly, so the compiler refuses any C type in the public API.
internal import CLibXML2

/// The glue every XMLSupport type shares: libxml2's one-time initialisation and copying strings
/// out of its memory (strings never point into libxml2's memory once handed out).
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

    /// Records an error libxml2 reported to ``handler``; warnings are dropped.
    private func record(_ error: xmlError) {
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

    /// Runs `body` with this collector as the current thread's libxml2 structured-error handler,
    /// and with the thread's "generic" error messages discarded.
    ///
    /// libxml2 raises an error to a per-context handler where one is set (callers set one where the
    /// API offers it), else to the thread's structured handler, else to its generic handler, which
    /// prints to stderr; a few messages only ever go to the generic handler. The handlers are per
    /// thread in libxml2, and `body` is synchronous, so this affects nothing running on other
    /// threads; the previous handlers are restored afterwards.
    func capturing<Result, Failure: Error>(_ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        let savedHandler = __xmlStructuredError().pointee
        let savedContext = __xmlStructuredErrorContext().pointee
        let savedGenericHandler = cpis_xml_discard_generic_errors()
        xmlSetStructuredErrorFunc(userData, Self.handler)
        defer {
            xmlSetStructuredErrorFunc(savedContext, savedHandler)
            cpis_xml_restore_generic_errors(savedGenericHandler)
        }
        return try withExtendedLifetime(self) { () throws(Failure) -> Result in try body() }
    }
}
