/// Every failure of XMLSupport: what went wrong (``code``), a message a person can act on, and where
/// libxml2 could tell, the line.
///
/// Schema validation reports every problem it found in ``issues``; the other failures carry the
/// first problem libxml2 reported (the later ones are usually consequences of it).
public struct XMLError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure. New codes may be added, so a `switch` over them needs a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        // A private enum behind static members, so that adding a code does not break callers.
        private enum Value: String {
            case tooLarge, empty, notWellFormed, documentTypeDeclarationNotAllowed, xpath, schemaLoad, schemaInvalid,
                 libraryFailure
        }

        private let value: Value

        private init(_ value: Value) {
            self.value = value
        }

        /// The input is larger than ``XMLParsingLimits/maximumInputBytes``; it was not parsed.
        public static let tooLarge = Code(.tooLarge)
        /// The input is empty or only white space.
        public static let empty = Code(.empty)
        /// The input is not well-formed, namespace-well-formed XML (truncated, HTML, binary…), or it
        /// exceeds one of libxml2's own safety limits (nesting depth, entity amplification).
        public static let notWellFormed = Code(.notWellFormed)
        /// The input has a document type declaration (`<!DOCTYPE …>`) and the limits it was parsed
        /// with do not allow one (``XMLParsingLimits/allowsDocumentTypeDeclaration``).
        public static let documentTypeDeclarationNotAllowed = Code(.documentTypeDeclarationNotAllowed)
        /// An XPath expression is invalid, uses an unregistered prefix, or selects nodes of a kind
        /// the caller did not ask for.
        public static let xpath = Code(.xpath)
        /// A schema, or one of the files it includes or imports, could not be read or compiled.
        public static let schemaLoad = Code(.schemaLoad)
        /// A document is not valid against a schema; ``XMLError/issues`` lists why.
        public static let schemaInvalid = Code(.schemaInvalid)
        /// libxml2 failed internally (in practice: it could not allocate memory).
        public static let libraryFailure = Code(.libraryFailure)

        public var description: String { value.rawValue }
    }

    /// One problem libxml2 reported, such as one schema validation error.
    public struct Issue: Hashable, Sendable, CustomStringConvertible {
        /// The line in the document (or schema file) the problem is on, when libxml2 knows it.
        /// libxml2 records element lines up to 65535; later elements all report 65535.
        public let line: Int?
        /// libxml2's message, without its trailing newline.
        public let message: String

        public init(line: Int?, message: String) {
            self.line = line
            self.message = message
        }

        public var description: String {
            line.map { "line \($0): \(message)" } ?? message
        }
    }

    /// The kind of failure.
    public let code: Code
    /// What went wrong, in words a person can act on.
    public let message: String
    /// The line the (first) problem is on, when known.
    public let line: Int?
    /// Every problem found, for ``Code/schemaInvalid`` (and ``Code/schemaLoad`` where libxml2 gave
    /// several); at most ``maximumIssueCount`` of them. Empty for other failures.
    public let issues: [Issue]

    /// How many issues an error keeps: a huge invalid document must not make a huge error.
    public static let maximumIssueCount = 50

    public init(code: Code, message: String, line: Int? = nil, issues: [Issue] = []) {
        self.code = code
        self.message = message
        self.line = line
        self.issues = issues
    }

    public var description: String {
        var text = "XML error (\(code))"
        if let line { text += " at line \(line)" }
        text += ": \(message)"
        for issue in issues {
            text += "\n  \(issue)"
        }
        return text
    }
}
