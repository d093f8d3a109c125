/// Limits applied to untrusted input before and while it is parsed.
///
/// libxml2's own safety limits always apply as well, because XMLSupport never asks for its
/// `XML_PARSE_HUGE` option: at most 256 levels of element nesting, 10 MB in one text node, and
/// refusal of documents whose entity references would expand explosively ("billion laughs").
public struct XMLParsingLimits: Hashable, Sendable {
    /// The largest input accepted, in bytes; larger input is refused with ``XMLError/Code/tooLarge``
    /// before libxml2 sees it. Values above `Int32.max` (libxml2's own limit) act as `Int32.max`.
    public var maximumInputBytes: Int

    /// Limits for parsing at most `maximumInputBytes` bytes (4 MiB unless given).
    public init(maximumInputBytes: Int = 4 * 1024 * 1024) {
        self.maximumInputBytes = maximumInputBytes
    }

    /// 4 MiB: far above any CP-IS SMSP message, far below what would strain the worker.
    public static let `default` = XMLParsingLimits()
}
