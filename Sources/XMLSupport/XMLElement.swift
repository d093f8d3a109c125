internal import CLibXML2

/// An element of an ``XMLDocument``. Reading it copies strings out of libxml2.
///
/// An element keeps its document alive. Two values are equal when they are the same element of the
/// same tree. Not `Sendable`, like its document.
public struct XMLElement: Hashable, XMLElementReading {
    /// The document that owns ``node``; holding it keeps the node allocated.
    let document: XMLDocument
    let node: xmlNodePtr

    init(document: XMLDocument, node: xmlNodePtr) {
        self.document = document
        self.node = node
    }

    /// The name without its prefix, e.g. `Envelope` for `soap:Envelope`.
    public var localName: String {
        LibXML2.string(node.pointee.name) ?? ""
    }

    /// The namespace the element is in, or nil for none. Compare namespaces, never prefixes: a
    /// prefix is only a local alias and may be bound to different URIs in different places.
    public var namespaceURI: String? {
        LibXML2.string(node.pointee.ns?.pointee.href)
    }

    /// The line of the element's start tag in the parsed input (for a tag over several lines, the
    /// line it ends on), when known; lines past 65535 all read 65535.
    public var line: Int? {
        let line = xmlGetLineNo(node)
        return line > 0 ? line : nil
    }

    /// The child elements, in document order (text, comments and other nodes are skipped).
    public var childElements: [XMLElement] {
        Self.children(of: node).filter { $0.pointee.type == XML_ELEMENT_NODE }.map {
            XMLElement(document: document, node: $0)
        }
    }

    /// The child elements with this local name in this namespace (nil: no namespace), in document
    /// order. Names are compared inside libxml2, without copying them out: the cheap way to walk a
    /// structure whose names are known.
    public func childElements(named localName: String, namespaceURI: String?) -> [XMLElement] {
        var found: [XMLElement] = []
        forEachChildElement(named: localName, namespaceURI: namespaceURI) { child in
            found.append(child)
            return true
        }
        return found
    }

    /// The first child element with this local name in this namespace (nil: no namespace).
    public func firstChildElement(named localName: String, namespaceURI: String?) -> XMLElement? {
        var found: XMLElement?
        forEachChildElement(named: localName, namespaceURI: namespaceURI) { child in
            found = child
            return false
        }
        return found
    }

    /// Calls `body` for each matching child element until it returns false.
    private func forEachChildElement(named localName: String, namespaceURI: String?,
                                     _ body: (XMLElement) -> Bool) {
        localName.withCString { name in
            let wantedName = UnsafeRawPointer(name).assumingMemoryBound(to: xmlChar.self)
            func inNamespace(_ node: xmlNodePtr) -> Bool {
                guard let namespaceURI else { return node.pointee.ns == nil }
                guard let href = node.pointee.ns?.pointee.href else { return false }
                return namespaceURI.withCString { xmlStrEqual(href, UnsafeRawPointer($0).assumingMemoryBound(to: xmlChar.self)) != 0 }
            }
            var child = node.pointee.children
            while let current = child {
                if current.pointee.type == XML_ELEMENT_NODE, xmlStrEqual(current.pointee.name, wantedName) != 0,
                   inNamespace(current), !body(XMLElement(document: document, node: current)) {
                    return
                }
                child = current.pointee.next
            }
        }
    }

    /// The concatenated text of the element and its descendants: text and CDATA sections only.
    ///
    /// Entity references are left out rather than expanded (libxml2's own `xmlNodeGetContent`
    /// would expand them), so a DTD-declared entity can never inject text.
    public var text: String {
        Self.text(inChildrenOf: node)
    }

    /// The value of the attribute with this local name and namespace, or nil if there is none.
    ///
    /// `namespaceURI` nil means an attribute in no namespace, which is what an unprefixed attribute
    /// is (a default namespace does not apply to attributes). Entity references in the value are
    /// left out, as in ``text``; character references and the predefined entities (`&amp;`…) are
    /// part of the value.
    public func attribute(_ localName: String, namespaceURI: String?) -> String? {
        var attribute = node.pointee.properties
        while let current = attribute {
            if LibXML2.string(current.pointee.name) == localName,
               LibXML2.string(current.pointee.ns?.pointee.href) == namespaceURI {
                // libxml2 lays out an attribute like a node, and keeps its value as child nodes.
                return Self.text(inChildrenOf: xmlNodePtr(OpaquePointer(current)))
            }
            attribute = current.pointee.next
        }
        return nil
    }

    /// Removes `child`, and everything in it, from this element.
    ///
    /// Element values referring to the removed subtree stay usable (they are detached, not freed).
    ///
    /// - Returns: false, changing nothing, if `child` is not a child of this element.
    @discardableResult
    public func removeChild(_ child: XMLElement) -> Bool {
        guard child.node.pointee.parent == node else { return false }
        document.detach(child.node)
        return true
    }

    public static func == (lhs: XMLElement, rhs: XMLElement) -> Bool {
        lhs.node == rhs.node
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(node)
    }

    /// The text of `node`'s text and CDATA children and, recursively, of its element children.
    /// Used for elements and for attributes, whose value libxml2 keeps as child nodes (text and
    /// entity references).
    static func text(inChildrenOf node: xmlNodePtr) -> String {
        var text = ""
        for child in children(of: node) {
            switch child.pointee.type {
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                text += LibXML2.string(child.pointee.content) ?? ""
            case XML_ELEMENT_NODE:
                text += Self.text(inChildrenOf: child)
            default:
                // Entity references (never expanded), comments, processing instructions.
                break
            }
        }
        return text
    }

    /// The direct children of `node`, of every kind.
    private static func children(of node: xmlNodePtr) -> [xmlNodePtr] {
        var children: [xmlNodePtr] = []
        var child = node.pointee.children
        while let current = child {
            children.append(current)
            child = current.pointee.next
        }
        return children
    }
}

// Not Sendable, stated explicitly: see the type's documentation.
@available(*, unavailable)
extension XMLElement: Sendable {}
