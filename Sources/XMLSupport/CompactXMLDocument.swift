internal import CLibXML2

/// A read-only XML document built from libxml2's SAX events into a few flat arrays: for a message
/// that is only read, at a fraction of the cost of a libxml2 tree (no node, attribute or text
/// object is allocated, and nothing is freed node by node afterwards).
///
/// Parsing is hardened as ``XMLDocument``'s is (no network, no DTD loading, no entity expansion,
/// the same limits), and a document type declaration is refused whatever the limits say: without
/// one no entity can be declared, so the text read is exactly the document's. For validation,
/// XPath or changes, parse an ``XMLDocument``.
///
/// Not `Sendable`, like ``XMLDocument``: read it where it was parsed.
public final class CompactXMLDocument {
    struct Element {
        /// libxml2's dictionary string: the document keeps the dictionary.
        let name: UnsafePointer<xmlChar>
        /// An index into `namespaces`, or -1 for none.
        let namespace: Int
        let attributes: Range<Int>
        /// Where the text of the element and its descendants is in `text`: text arrives in document
        /// order, so a subtree's text is one run.
        let textStart: Int
        var textEnd: Int
        var firstChild = -1
        var nextSibling = -1
    }

    struct Attribute {
        let name: UnsafePointer<xmlChar>
        let namespace: Int
        let value: Range<Int>
    }

    /// In document order; the first is the root.
    let elements: [Element]
    let attributes: [Attribute]
    /// Text and CDATA, in document order.
    let text: [UInt8]
    let attributeValues: [UInt8]
    /// The namespace URIs in use (a document has a handful).
    let namespaces: [String]
    /// libxml2's string dictionary, which holds every element and attribute name.
    private let dictionary: xmlDictPtr

    // As ``XMLDocument``'s, less COMPACT and NOBLANKS, which only shape a tree.
    private static let parserOptions = Int32(bitPattern: XML_PARSE_NONET.rawValue
        | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)

    /// Parses `bytes` as an XML document (UTF-8 unless the document declares its encoding).
    ///
    /// - Throws: ``XMLError`` as ``XMLDocument/init(parsing:limits:)`` does; a document type
    ///   declaration is always ``XMLError/Code/documentTypeDeclarationNotAllowed``.
    public init(parsing bytes: some Collection<UInt8>, limits: XMLParsingLimits = .default) throws(XMLError) {
        try XMLDocument.checkInput(bytes, limits: limits)
        let parsed = bytes.withContiguousStorageIfAvailable(Self.parse) ?? Array(bytes).withUnsafeBufferPointer(Self.parse)
        let built = try parsed.get()
        (elements, attributes, text, attributeValues) = (built.elements, built.attributes, built.text, built.attributeValues)
        namespaces = built.namespaceURIs
        dictionary = built.dictionary!
    }

    deinit {
        xmlDictFree(dictionary)
    }

    /// The document (root) element.
    public var rootElement: CompactXMLElement {
        CompactXMLElement(document: self, index: 0)
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<Builder, XMLError> {
        let context = bytes.withMemoryRebound(to: CChar.self) { xmlCreateMemoryParserCtxt($0.baseAddress, Int32($0.count)) }
        guard let context, let sax = context.pointee.sax else {
            return .failure(XMLError(code: .libraryFailure, message: "libxml2 could not create a parser context"))
        }
        defer { xmlFreeParserCtxt(context) }
        _ = xmlCtxtUseOptions(context, parserOptions)
        // Only the events read here; none builds a tree (a comment or processing instruction
        // handler would, and with no document to hang it on, leak it).
        sax.pointee.startDocument = nil
        sax.pointee.endDocument = nil
        sax.pointee.comment = nil
        sax.pointee.processingInstruction = nil
        sax.pointee.reference = nil
        sax.pointee.internalSubset = { parser, _, _, _ in
            xmlStopParser(parser?.assumingMemoryBound(to: xmlParserCtxt.self))
        }
        sax.pointee.startElementNs = { parser, localName, _, namespace, _, _, attributeCount, _, attributes in
            guard let localName else { return }
            Builder.of(parser).pointee.start(localName, namespace: namespace, attributeCount: Int(attributeCount),
                                             attributes: attributes)
        }
        sax.pointee.endElementNs = { parser, _, _, _ in
            Builder.of(parser).pointee.end()
        }
        let characters: charactersSAXFunc = { parser, bytes, count in
            guard let bytes, count > 0 else { return }
            Builder.of(parser).pointee.text.append(contentsOf: UnsafeBufferPointer(start: bytes, count: Int(count)))
        }
        sax.pointee.characters = characters
        sax.pointee.ignorableWhitespace = characters
        sax.pointee.cdataBlock = characters

        // Room for a typical message at once (an element or attribute every 40 bytes or so, half
        // the bytes text) rather than growing each array from nothing.
        var builder = Builder()
        builder.elements.reserveCapacity(bytes.count / 40)
        builder.attributes.reserveCapacity(bytes.count / 40)
        builder.attributeValues.reserveCapacity(bytes.count / 4)
        builder.text.reserveCapacity(bytes.count / 2)
        builder.open.reserveCapacity(32)
        let collector = LibXML2ErrorCollector()
        withUnsafeMutablePointer(to: &builder) { building in
            context.pointee._private = UnsafeMutableRawPointer(building)
            collector.capturing { _ = xmlParseDocument(context) }
            context.pointee._private = nil
        }
        if context.pointee.errNo == Int32(XML_ERR_USER_STOP.rawValue) {
            return .failure(XMLError(code: .documentTypeDeclarationNotAllowed,
                                     message: "the document has a document type declaration (<!DOCTYPE …>), which is not allowed here"))
        }
        guard context.pointee.wellFormed != 0, context.pointee.nsWellFormed != 0, !builder.elements.isEmpty,
              builder.open.isEmpty, let dictionary = context.pointee.dict
        else {
            let first = collector.issues.first
            return .failure(XMLError(code: .notWellFormed,
                                     message: "not well-formed XML: \(first?.message ?? "libxml2 gave no reason")",
                                     line: first?.line))
        }
        // The names stay in the dictionary: the document keeps it when the parser goes. The
        // namespaces are copied while the parser still holds them.
        xmlDictReference(dictionary)
        builder.dictionary = dictionary
        builder.namespaceURIs = builder.namespaces.map { String(cString: $0) }
        return .success(builder)
    }

    /// The document's parts as the parser's events arrive. A struct reached through the parser's
    /// `_private` pointer: a class's stored properties would be checked for exclusive access at
    /// every event, which cost more than the events.
    private struct Builder {
        var elements: [Element] = []
        var attributes: [Attribute] = []
        var text: [UInt8] = []
        var attributeValues: [UInt8] = []
        /// Each namespace URI as libxml2 first gave it (its dictionary's string, valid while parsing).
        var namespaces: [UnsafePointer<xmlChar>] = []
        /// `namespaces` copied, once parsing has succeeded.
        var namespaceURIs: [String] = []
        var dictionary: xmlDictPtr?
        /// The open elements, each with its last child so far.
        var open: [(element: Int, lastChild: Int)] = []

        static func of(_ parser: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<Builder> {
            let context = parser!.assumingMemoryBound(to: xmlParserCtxt.self)
            return context.pointee._private.assumingMemoryBound(to: Builder.self)
        }

        mutating func start(_ localName: UnsafePointer<xmlChar>, namespace: UnsafePointer<xmlChar>?, attributeCount: Int,
                            attributes fields: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?) {
            let firstAttribute = attributes.count
            // Five pointers an attribute: local name, prefix, namespace, value start, value end.
            for index in 0..<(fields == nil ? 0 : attributeCount) {
                let field = fields! + index * 5
                guard let name = field[0], let start = field[3], let end = field[4] else { continue }
                let valueStart = attributeValues.count
                appendAttributeValue(UnsafeBufferPointer(start: start, count: end - start))
                attributes.append(Attribute(name: name, namespace: namespaceIndex(field[2]),
                                            value: valueStart..<attributeValues.count))
            }
            let index = elements.count
            elements.append(Element(name: localName, namespace: namespaceIndex(namespace),
                                    attributes: firstAttribute..<attributes.count, textStart: text.count, textEnd: text.count))
            if let parent = open.indices.last {
                if open[parent].lastChild >= 0 {
                    elements[open[parent].lastChild].nextSibling = index
                } else {
                    elements[open[parent].element].firstChild = index
                }
                open[parent].lastChild = index
            }
            open.append((index, -1))
        }

        mutating func end() {
            guard let closed = open.popLast() else { return }
            elements[closed.element].textEnd = text.count
        }

        /// libxml2 hands over a `&` in an attribute value (`&amp;`, `&#38;`) as `&#38;`, to be
        /// decoded by whoever builds the value; with no DTD there is no other entity in a value.
        private mutating func appendAttributeValue(_ value: UnsafeBufferPointer<xmlChar>) {
            guard value.contains(UInt8(ascii: "&")) else {
                attributeValues.append(contentsOf: value)
                return
            }
            let ampersand = Array("&#38;".utf8)
            var index = 0
            while index < value.count {
                if value[index] == UInt8(ascii: "&"), value.count - index >= ampersand.count,
                   value[index..<index + ampersand.count].elementsEqual(ampersand) {
                    attributeValues.append(UInt8(ascii: "&"))
                    index += ampersand.count
                } else {
                    attributeValues.append(value[index])
                    index += 1
                }
            }
        }

        private mutating func namespaceIndex(_ uri: UnsafePointer<xmlChar>?) -> Int {
            guard let uri else { return -1 }
            // Usually the very pointer seen before: xmlStrEqual compares pointers first.
            if let known = namespaces.firstIndex(where: { xmlStrEqual($0, uri) != 0 }) { return known }
            namespaces.append(uri)
            return namespaces.count - 1
        }
    }

    /// Whether namespace `index` is `uri` (nil: no namespace).
    func namespace(_ index: Int, is uri: String?) -> Bool {
        guard let uri else { return index < 0 }
        return index >= 0 && namespaces[index] == uri
    }
}

// Not Sendable, stated explicitly: see the type's documentation.
@available(*, unavailable)
extension CompactXMLDocument: Sendable {}

/// An element of a ``CompactXMLDocument``, which it keeps alive. Reading it copies strings out.
public struct CompactXMLElement: XMLElementReading {
    let document: CompactXMLDocument
    let index: Int

    private var element: CompactXMLDocument.Element { document.elements[index] }

    public var localName: String {
        String(cString: element.name)
    }

    public var namespaceURI: String? {
        let namespace = element.namespace
        return namespace < 0 ? nil : document.namespaces[namespace]
    }

    public var childElements: [CompactXMLElement] {
        var children: [CompactXMLElement] = []
        forEachChild { children.append($0); return true }
        return children
    }

    public func childElements(named localName: String, namespaceURI: String?) -> [CompactXMLElement] {
        var found: [CompactXMLElement] = []
        forEachChild(named: localName, namespaceURI: namespaceURI) { found.append($0); return true }
        return found
    }

    public func firstChildElement(named localName: String, namespaceURI: String?) -> CompactXMLElement? {
        var found: CompactXMLElement?
        forEachChild(named: localName, namespaceURI: namespaceURI) { found = $0; return false }
        return found
    }

    /// The concatenated text of the element and its descendants: text and CDATA only. Unlike an
    /// ``XMLElement``'s, it keeps the white space between child elements; the text of an element
    /// without children is the same in both.
    public var text: String {
        let element = element
        return String(decoding: document.text[element.textStart..<element.textEnd], as: UTF8.self)
    }

    public func attribute(_ localName: String, namespaceURI: String?) -> String? {
        localName.withCString { wanted in
            let wantedName = UnsafeRawPointer(wanted).assumingMemoryBound(to: xmlChar.self)
            for attribute in document.attributes[element.attributes]
            where xmlStrEqual(attribute.name, wantedName) != 0 && document.namespace(attribute.namespace, is: namespaceURI) {
                return String(decoding: document.attributeValues[attribute.value], as: UTF8.self)
            }
            return nil
        }
    }

    /// Calls `body` for each child element until it returns false.
    private func forEachChild(_ body: (CompactXMLElement) -> Bool) {
        var child = element.firstChild
        while child >= 0, body(CompactXMLElement(document: document, index: child)) {
            child = document.elements[child].nextSibling
        }
    }

    /// Calls `body` for each child element with this name until it returns false. Names are
    /// compared in place, without copying them out.
    private func forEachChild(named localName: String, namespaceURI: String?, _ body: (CompactXMLElement) -> Bool) {
        localName.withCString { wanted in
            let wantedName = UnsafeRawPointer(wanted).assumingMemoryBound(to: xmlChar.self)
            var child = element.firstChild
            while child >= 0 {
                let candidate = document.elements[child]
                if xmlStrEqual(candidate.name, wantedName) != 0, document.namespace(candidate.namespace, is: namespaceURI),
                   !body(CompactXMLElement(document: document, index: child)) {
                    return
                }
                child = candidate.nextSibling
            }
        }
    }
}

// Not Sendable, stated explicitly: see the document's.
@available(*, unavailable)
extension CompactXMLElement: Sendable {}
