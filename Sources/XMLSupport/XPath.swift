internal import CLibXML2

// Namespace-aware XPath 1.0 queries on documents and elements.
//
// Names in an expression are matched by namespace, through the prefixes the caller registers in
// `namespaces` (prefix → namespace URI); the document's own prefixes mean nothing to the query.
// XPath 1.0 has no default namespace: an unprefixed name only matches elements in no namespace, so
// register a prefix for a default namespace too (e.g. "hl7" for urn:hl7-org:v3).
//
// Expressions must select nodes. Strings, numbers and booleans computed by XPath (`string(…)`,
// `count(…)`) are refused: libxml2 computes string values with entity references expanded, and
// nothing XMLSupport returns may contain entity text (predicates may still compare such values).

extension XMLDocument {
    /// The elements `expression` selects, evaluated from the document node (so `/soap:Envelope`
    /// and `soap:Envelope` both select the root if it is a `soap:Envelope`).
    ///
    /// - Parameter namespaces: prefix → namespace URI, for the prefixes `expression` uses.
    /// - Throws: ``XMLError/Code/xpath`` if the expression is invalid, uses an unregistered prefix,
    ///   or selects anything but elements.
    public func elements(matching expression: String, namespaces: [String: String] = [:]) throws(XMLError)
        -> [XMLElement] {
        try XPath.elements(expression, namespaces: namespaces, in: self, from: documentNode)
    }

    /// The first element, in document order, that `expression` selects; see
    /// ``elements(matching:namespaces:)``.
    public func firstElement(matching expression: String, namespaces: [String: String] = [:]) throws(XMLError)
        -> XMLElement? {
        try XPath.elements(expression, namespaces: namespaces, in: self, from: documentNode).first
    }

    /// The string value of the first node `expression` selects, or nil if it selects none: an
    /// element's ``XMLElement/text``, an attribute's value (`…/@extension`), or a text node's text.
    ///
    /// - Throws: ``XMLError/Code/xpath`` if the expression is invalid, uses an unregistered prefix,
    ///   or does not select nodes.
    public func string(matching expression: String, namespaces: [String: String] = [:]) throws(XMLError)
        -> String? {
        try XPath.string(expression, namespaces: namespaces, in: self, from: documentNode)
    }

    /// The document node, as libxml2 takes it for an XPath context node.
    private var documentNode: xmlNodePtr {
        xmlNodePtr(OpaquePointer(pointer))
    }
}

extension XMLElement {
    /// The elements `expression` selects with this element as the context node (so `hl7:id`
    /// selects its `id` children); see ``XMLDocument/elements(matching:namespaces:)``.
    public func elements(matching expression: String, namespaces: [String: String] = [:]) throws(XMLError)
        -> [XMLElement] {
        try XPath.elements(expression, namespaces: namespaces, in: document, from: node)
    }

    /// The first element `expression` selects relative to this element; see
    /// ``XMLDocument/elements(matching:namespaces:)``.
    public func firstElement(matching expression: String, namespaces: [String: String] = [:]) throws(XMLError)
        -> XMLElement? {
        try XPath.elements(expression, namespaces: namespaces, in: document, from: node).first
    }

    /// The string value of the first node `expression` selects relative to this element (e.g.
    /// `hl7:id/@root`); see ``XMLDocument/string(matching:namespaces:)``.
    public func string(matching expression: String, namespaces: [String: String] = [:]) throws(XMLError)
        -> String? {
        try XPath.string(expression, namespaces: namespaces, in: document, from: node)
    }
}

/// The evaluation behind the public XPath methods.
enum XPath {
    static func elements(
        _ expression: String, namespaces: [String: String], in document: XMLDocument, from contextNode: xmlNodePtr
    ) throws(XMLError) -> [XMLElement] {
        var elements: [XMLElement] = []
        for node in try nodes(expression, namespaces: namespaces, in: document, from: contextNode) {
            guard node.pointee.type == XML_ELEMENT_NODE else {
                throw XMLError(
                    code: .xpath, message: "XPath expression '\(expression)' selects nodes that are not elements"
                )
            }
            elements.append(XMLElement(document: document, node: node))
        }
        return elements
    }

    static func string(
        _ expression: String, namespaces: [String: String], in document: XMLDocument, from contextNode: xmlNodePtr
    ) throws(XMLError) -> String? {
        guard let node = try nodes(expression, namespaces: namespaces, in: document, from: contextNode).first else {
            return nil
        }
        switch node.pointee.type {
        case XML_ELEMENT_NODE, XML_ATTRIBUTE_NODE:
            return XMLElement.text(inChildrenOf: node)
        case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
            return LibXML2.string(node.pointee.content) ?? ""
        default:
            throw XMLError(
                code: .xpath, message: "XPath expression '\(expression)' selects a node with no string value here"
            )
        }
    }

    /// The nodes `expression` selects. Every one belongs to `document`'s tree (namespace nodes,
    /// which libxml2 allocates with the result, are refused), so they outlive the XPath result.
    private static func nodes(
        _ expression: String, namespaces: [String: String], in document: XMLDocument, from contextNode: xmlNodePtr
    ) throws(XMLError) -> [xmlNodePtr] {
        guard let context = xmlXPathNewContext(document.pointer) else {
            throw XMLError(code: .libraryFailure, message: "libxml2 could not create an XPath context")
        }
        defer { xmlXPathFreeContext(context) }
        for (prefix, uri) in namespaces {
            guard !prefix.isEmpty, xmlXPathRegisterNs(context, prefix, uri) == 0 else {
                throw XMLError(code: .xpath, message: "cannot register XPath namespace prefix '\(prefix)'")
            }
        }
        context.pointee.node = contextNode
        // Not the context's own `error` callback: libxml2 2.9 hands that one the error without its
        // message. With no callback set it raises the error, message included, to the thread's
        // handler, which `capturing` sets.
        let collector = LibXML2ErrorCollector()
        guard let result = collector.capturing({ xmlXPathEval(expression, context) }) else {
            let reason = collector.issues.first?.message ?? "libxml2 gave no reason"
            throw XMLError(code: .xpath, message: "invalid XPath expression '\(expression)': \(reason)")
        }
        defer { xmlXPathFreeObject(result) }
        guard result.pointee.type == XPATH_NODESET else {
            throw XMLError(code: .xpath, message: "XPath expression '\(expression)' does not select nodes")
        }
        guard let set = result.pointee.nodesetval, let table = set.pointee.nodeTab else { return [] }
        let nodes = UnsafeBufferPointer(start: table, count: Int(set.pointee.nodeNr)).compactMap { $0 }
        guard !nodes.contains(where: { $0.pointee.type == XML_NAMESPACE_DECL }) else {
            throw XMLError(code: .xpath, message: "XPath expression '\(expression)' selects namespace nodes")
        }
        return nodes
    }
}
