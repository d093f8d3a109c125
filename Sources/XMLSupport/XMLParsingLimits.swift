/// Limits applied to untrusted input before and while it is parsed.
///
/// libxml2's own safety limits always apply as well, because XMLSupport never asks for its
/// `XML_PARSE_HUGE` option: at most 256 levels of element nesting, 10 MB in one text node or
/// attribute value, and refusal of documents whose entity references would expand explosively
/// ("billion laughs"). No text or attribute can be larger than the input, so with the default
/// ``maximumInputBytes`` that bounds them (and the memory a document takes) well below 10 MB.
public struct XMLParsingLimits: Hashable, Sendable {
    /// The largest input accepted, in bytes; larger input is refused with ``XMLError/Code/tooLarge``
    /// before libxml2 sees it. Values above `Int32.max` (libxml2's own limit) act as `Int32.max`.
    public var maximumInputBytes: Int

    /// Whether a document may have a document type declaration (`<!DOCTYPE …>`). When `false`, one is
    /// refused with ``XMLError/Code/documentTypeDeclarationNotAllowed`` as soon as the parser meets
    /// it, before it reads any declaration inside. SOAP 1.1 forbids them in SOAP messages, and every
    /// entity attack (XXE, billion laughs, quadratic blowup) needs one. `true` keeps DTDs parsed but
    /// never loaded or expanded (see ``XMLDocument``).
    public var allowsDocumentTypeDeclaration: Bool

    /// Limits for parsing at most `maximumInputBytes` bytes (4 MiB unless given), with or without a
    /// document type declaration (with, unless told).
    public init(maximumInputBytes: Int = 4 * 1024 * 1024, allowsDocumentTypeDeclaration: Bool = true) {
        self.maximumInputBytes = maximumInputBytes
        self.allowsDocumentTypeDeclaration = allowsDocumentTypeDeclaration
    }

    /// 4 MiB: far above any CP-IS SMSP message, far below what would strain the worker.
    public static let `default` = XMLParsingLimits()
}
