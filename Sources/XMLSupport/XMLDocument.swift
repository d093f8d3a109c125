internal import CLibXML2

/// A well-formed XML document parsed with libxml2, hardened for untrusted input.
///
/// Parsing never touches the network, never loads an external DTD or external entity, and never
/// substitutes entities: an entity reference stays a reference, and ``XMLElement/text`` and
/// attribute values leave it out. A document may still carry a DTD (libxml2 has to parse it to
/// check well-formedness) unless ``XMLParsingLimits/allowsDocumentTypeDeclaration`` refuses it, as
/// callers whose messages must never have one (SOAP) do; ``hasDocumentTypeDeclaration`` tells.
///
/// Not thread-safe: libxml2 trees have no locking, and XPath and ``XMLElement/removeChild(_:)`` use
/// and change them, so a document and its elements are not `Sendable` and stay in one isolation
/// domain. Parse one document per message.
public final class XMLDocument {
    /// The libxml2 tree, owned by this object.
    let pointer: xmlDocPtr
    /// The document element. It cannot be removed, so this stays valid.
    private let rootNode: xmlNodePtr
    /// Nodes taken out of the tree by ``XMLElement/removeChild(_:)``. They are freed with the
    /// document rather than at once, so that ``XMLElement`` values still referring to them (or to
    /// their descendants) stay valid.
    private var detachedNodes: [xmlNodePtr] = []

    // libxml2 parser options. Deliberately absent: NOENT (substitute entities), DTDLOAD, DTDATTR,
    // DTDVALID (load and apply external DTDs) and HUGE (lift the safety limits). NOBLANKS leaves out
    // the white space between elements (line breaks, indentation): nothing reads it, and it was a
    // node to allocate and step over for every element. Text with anything but white space, and an
    // element's only content even if blank, are kept.
    private static let parserOptions = Int32(bitPattern: XML_PARSE_NONET.rawValue
        | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue | XML_PARSE_COMPACT.rawValue
        | XML_PARSE_NOBLANKS.rawValue)

    /// Parses `bytes` as an XML document (UTF-8 unless the document declares its encoding).
    ///
    /// - Throws: ``XMLError`` with code ``XMLError/Code/tooLarge`` (nothing parsed),
    ///   ``XMLError/Code/empty``, ``XMLError/Code/documentTypeDeclarationNotAllowed`` (when `limits`
    ///   refuse a DOCTYPE), or ``XMLError/Code/notWellFormed`` (with libxml2's first message and its
    ///   line), which includes namespace errors such as an undeclared prefix.
    public init(parsing bytes: some Collection<UInt8>, limits: XMLParsingLimits = .default) throws(XMLError) {
        try Self.checkInput(bytes, limits: limits)
        let parse = { (bytes: UnsafeBufferPointer<UInt8>) in
            Self.parse(bytes, allowingDocumentType: limits.allowsDocumentTypeDeclaration)
        }
        let parsed = bytes.withContiguousStorageIfAvailable(parse) ?? Array(bytes).withUnsafeBufferPointer(parse)
        (pointer, rootNode) = try parsed.get()
    }

    /// Initialises libxml2 if needed and refuses, before parsing, input over the size limit and
    /// input with nothing in it.
    static func checkInput(_ bytes: some Collection<UInt8>, limits: XMLParsingLimits) throws(XMLError) {
        LibXML2.initialise()
        let maximum = min(limits.maximumInputBytes, Int(Int32.max))
        let count = bytes.count
        guard count <= maximum else {
            throw XMLError(code: .tooLarge, message: "the input is \(count) bytes, more than the \(maximum) allowed")
        }
        // XML white space only (or nothing): libxml2 would call it empty too, but with the same
        // error code it uses for "no '<' where the root element should start".
        guard bytes.contains(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else {
            throw XMLError(code: .empty, message: "the input is empty")
        }
    }

    /// A new document whose root element is a deep copy of `element` (from any document).
    ///
    /// Namespace declarations in scope at `element` are declared on the copy's root, so prefixes
    /// used in attribute values (such as `xsi:type`) still resolve. Line numbers are kept, so schema
    /// validation of the copy reports lines of the original.
    ///
    /// - Throws: ``XMLError/Code/libraryFailure`` if libxml2 cannot allocate the copy.
    public init(copying element: XMLElement) throws(XMLError) {
        guard let document = xmlNewDoc("1.0") else {
            throw XMLError(code: .libraryFailure, message: "libxml2 could not create a document")
        }
        guard let copy = xmlDocCopyNode(element.node, document, 1) else {
            xmlFreeDoc(document)
            throw XMLError(code: .libraryFailure, message: "libxml2 could not copy element \(element.localName)")
        }
        xmlDocSetRootElement(document, copy)
        if let inScope = xmlGetNsList(element.document.pointer, element.node) {
            defer { cpis_xml_free(inScope) }
            var index = 0
            while let namespace = inScope[index] {
                if xmlSearchNs(document, copy, namespace.pointee.prefix) == nil {
                    xmlNewNs(copy, namespace.pointee.href, namespace.pointee.prefix)
                }
                index += 1
            }
        }
        (pointer, rootNode) = (document, copy)
    }

    // Freeing in deinit, rather than an explicit close(), because it only releases memory: it
    // cannot block or fail, and no element can outlive the document (each one holds it).
    deinit {
        // Detached nodes first: freeing them may consult the document's string dictionary.
        for node in detachedNodes {
            xmlFreeNode(node)
        }
        xmlFreeDoc(pointer)
    }

    /// The document (root) element.
    public var rootElement: XMLElement {
        XMLElement(document: self, node: rootNode)
    }

    /// Whether the document has a document type declaration (`<!DOCTYPE …>`), with or without an
    /// internal subset. SOAP messages must not have one.
    public var hasDocumentTypeDeclaration: Bool {
        pointer.pointee.intSubset != nil
    }

    /// Takes `node` out of the tree, keeping it allocated until the document is freed.
    func detach(_ node: xmlNodePtr) {
        xmlUnlinkNode(node)
        detachedNodes.append(node)
    }

    /// The document as UTF-8 XML text, with an XML declaration, or nil if libxml2 cannot allocate it.
    func serializedUTF8() -> [UInt8]? {
        var text: UnsafeMutablePointer<xmlChar>?
        var size: Int32 = 0
        xmlDocDumpMemoryEnc(pointer, &text, &size, "UTF-8")
        defer { cpis_xml_free(text) }
        guard let text, size >= 0 else { return nil }
        return Array(UnsafeBufferPointer(start: text, count: Int(size)))
    }

    /// Parses contiguous bytes with a fresh parser context, collecting libxml2's errors instead of
    /// letting it print them.
    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>,
                              allowingDocumentType: Bool) -> Result<(xmlDocPtr, xmlNodePtr), XMLError> {
        guard let context = xmlNewParserCtxt() else {
            return .failure(XMLError(code: .libraryFailure, message: "libxml2 could not create a parser context"))
        }
        defer { xmlFreeParserCtxt(context) }
        if !allowingDocumentType {
            // libxml2 reports the DOCTYPE's name and identifiers before it reads the internal subset:
            // stopping there means no declaration in it is ever parsed.
            context.pointee.sax.pointee.internalSubset = { parser, _, _, _ in
                xmlStopParser(parser?.assumingMemoryBound(to: xmlParserCtxt.self))
            }
        }
        let collector = LibXML2ErrorCollector()
        let document = bytes.withMemoryRebound(to: CChar.self) { text in
            collector.capturing {
                xmlCtxtReadMemory(context, text.baseAddress, Int32(text.count), nil, nil, parserOptions)
            }
        }
        // Nothing but the DOCTYPE callback above stops the parser.
        if context.pointee.errNo == Int32(XML_ERR_USER_STOP.rawValue) {
            xmlFreeDoc(document)
            return .failure(XMLError(code: .documentTypeDeclarationNotAllowed,
                                     message: "the document has a document type declaration (<!DOCTYPE …>), which is not allowed here"))
        }
        // libxml2 returns a tree for some documents it reported errors in (namespace errors are
        // not fatal to it); none of those are acceptable here.
        if let document, context.pointee.wellFormed != 0, context.pointee.nsWellFormed != 0,
           let root = xmlDocGetRootElement(document) {
            return .success((document, root))
        }
        xmlFreeDoc(document)
        let first = collector.issues.first
        return .failure(XMLError(
            code: .notWellFormed,
            message: "not well-formed XML: \(first?.message ?? "libxml2 gave no reason")",
            line: first?.line
        ))
    }
}

// Not Sendable, stated explicitly: see the type's documentation.
@available(*, unavailable)
extension XMLDocument: Sendable {}
