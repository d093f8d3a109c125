/// What a reader of a message needs of an element: its name, its children by name and namespace,
/// its attributes and its text. ``XMLElement`` (a libxml2 tree, which can also be validated,
/// searched with XPath and changed) and ``CompactXMLElement`` (read-only, far cheaper to build)
/// both offer it, so one reader serves both. (`SendableMetatype`: the element types, not their
/// values, may be named in closures that cross threads, as generic readers' functions are.)
public protocol XMLElementReading: SendableMetatype {
    /// The name without its prefix, e.g. `Envelope` for `soap:Envelope`.
    var localName: String { get }
    /// The namespace the element is in, or nil for none.
    var namespaceURI: String? { get }
    /// The child elements, in document order.
    var childElements: [Self] { get }
    /// The child elements with this local name in this namespace (nil: no namespace), in document order.
    func childElements(named localName: String, namespaceURI: String?) -> [Self]
    /// The first child element with this local name in this namespace (nil: no namespace).
    func firstChildElement(named localName: String, namespaceURI: String?) -> Self?
    /// The concatenated text of the element and its descendants (entity references left out).
    var text: String { get }
    /// The value of the attribute with this local name in this namespace (nil: no namespace, which
    /// is what an unprefixed attribute is in).
    func attribute(_ localName: String, namespaceURI: String?) -> String?
}

extension XMLElementReading {
    /// The value of the unprefixed attribute with this name.
    public func attribute(_ localName: String) -> String? {
        attribute(localName, namespaceURI: nil)
    }
}
