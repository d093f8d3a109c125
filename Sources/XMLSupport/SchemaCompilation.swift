internal import CLibXML2
import Foundation

/// One compilation of an ``XMLSchema``: how libxml2 gets the schema documents, and what went
/// wrong getting them.
///
/// libxml2 reads a schema, and the documents it includes and imports, itself, through the
/// process-wide "external entity loader": one C function pointer, with no user data. To read local
/// files only, and to normalise each document before libxml2 parses it, a compilation installs
/// ``loader`` for its duration and puts the old one back afterwards. The global state is contained:
/// - ``lock`` serialises compilations, so one at a time installs and restores the loader (it also
///   serialises libxml2's lazy, not thread-safe, set-up of the built-in types on first compilation);
/// - the running compilation is found in the compiling thread's dictionary, so a load on any other
///   thread meanwhile (XMLSupport makes none: documents are parsed without loading anything) gets
///   libxml2's own no-network loader instead of this compilation's rules.
final class SchemaCompilation {
    private static let lock = NSLock()
    private static let threadKey = "XMLSupport.SchemaCompilation"
    private static let xmlSchemaNamespace = "http://www.w3.org/2001/XMLSchema"

    private let normalising: Bool
    /// Why documents could not be loaded, in the order libxml2 asked for them.
    private var loadFailures: [XMLError.Issue] = []

    private init(normalising: Bool) {
        self.normalising = normalising
    }

    /// Compiles the schema in the file at `path`; the caller owns (frees) the result.
    ///
    /// - Parameter normalising: see ``XMLSchema/init(contentsOf:normalisingProhibitedAttributeTypes:)``.
    static func compile(path: String, normalising: Bool) throws(XMLError) -> xmlSchemaPtr {
        lock.lock()
        defer { lock.unlock() }
        let compilation = SchemaCompilation(normalising: normalising)
        let previousLoader = xmlGetExternalEntityLoader()
        xmlSetExternalEntityLoader(loader)
        Thread.current.threadDictionary[threadKey] = compilation
        defer {
            Thread.current.threadDictionary.removeObject(forKey: threadKey)
            xmlSetExternalEntityLoader(previousLoader)
        }

        guard let parserContext = xmlSchemaNewParserCtxt(path) else {
            throw XMLError(code: .libraryFailure, message: "libxml2 could not create a schema parser context")
        }
        defer { xmlSchemaFreeParserCtxt(parserContext) }
        let collector = LibXML2ErrorCollector()
        xmlSchemaSetParserStructuredErrors(parserContext, LibXML2ErrorCollector.handler, collector.userData)
        let schema = collector.capturing { xmlSchemaParse(parserContext) }
        // A document that could not be loaded fails the compilation, even where libxml2 only warns
        // and carries on without it (an import it cannot read).
        if let schema, compilation.loadFailures.isEmpty {
            return schema
        }
        xmlSchemaFree(schema)
        let issues = Array((compilation.loadFailures + collector.issues).prefix(XMLError.maximumIssueCount))
        throw XMLError(
            code: .schemaLoad,
            message: "could not compile schema \(path): \(issues.first?.message ?? "libxml2 gave no reason")",
            line: issues.first?.line,
            issues: issues
        )
    }

    /// The external entity loader installed while compiling. It must not throw or capture.
    private static let loader: xmlExternalEntityLoader = { location, publicID, parserContext in
        guard let compilation = Thread.current.threadDictionary[threadKey] as? SchemaCompilation else {
            return xmlNoNetExternalEntityLoader(location, publicID, parserContext)
        }
        guard let location, let parserContext else { return nil }
        return compilation.load(String(cString: location), into: parserContext)
    }

    /// A libxml2 input holding the (normalised) document at `location`, or nil (the failure
    /// recorded) if it cannot be read.
    private func load(_ location: String, into parserContext: xmlParserCtxtPtr) -> xmlParserInputPtr? {
        do throws(XMLError) {
            var bytes = try Self.read(location)
            if normalising {
                bytes = try Self.normalised(bytes)
            }
            guard let input = Self.input(bytes, location: location, parserContext: parserContext) else {
                throw XMLError(code: .libraryFailure, message: "libxml2 could not create an input")
            }
            return input
        } catch {
            loadFailures.append(XMLError.Issue(line: error.line, message: "\(location): \(error.message)"))
            return nil
        }
    }

    /// The bytes of a local file, named by a path or a `file:` URL; any other URL is refused.
    private static func read(_ location: String) throws(XMLError) -> [UInt8] {
        let url: URL
        if let parsed = URL(string: location), let scheme = parsed.scheme {
            guard scheme.lowercased() == "file" else {
                throw XMLError(code: .schemaLoad, message: "refused: schemas are read from local files only")
            }
            url = parsed
        } else {
            url = URL(fileURLWithPath: location)
        }
        do {
            return try [UInt8](Data(contentsOf: url))
        } catch {
            throw XMLError(code: .schemaLoad, message: "cannot read \(url.path): \(error.localizedDescription)")
        }
    }

    /// The schema document `bytes` without the `xs:simpleType` children of attributes declared
    /// `use="prohibited"`, as UTF-8 text.
    private static func normalised(_ bytes: [UInt8]) throws(XMLError) -> [UInt8] {
        // Schema files are local and trusted, so libxml2's limit is the only size limit.
        let document = try XMLDocument(parsing: bytes, limits: XMLParsingLimits(maximumInputBytes: Int(Int32.max)))
        let prohibited = try document.elements(
            matching: "//xs:attribute[@use = 'prohibited'][xs:simpleType]",
            namespaces: ["xs": xmlSchemaNamespace]
        )
        for attribute in prohibited {
            for child in attribute.childElements
            where child.localName == "simpleType" && child.namespaceURI == xmlSchemaNamespace {
                attribute.removeChild(child)
            }
        }
        guard let text = document.serializedUTF8() else {
            throw XMLError(code: .libraryFailure, message: "libxml2 could not serialise the normalised schema")
        }
        return text
    }

    /// A libxml2 parser input over a copy of `bytes`, named `location`: libxml2 resolves the
    /// document's relative includes and imports against that name, and reports errors with it.
    private static func input(
        _ bytes: [UInt8], location: String, parserContext: xmlParserCtxtPtr
    ) -> xmlParserInputPtr? {
        bytes.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { text -> xmlParserInputPtr? in
                guard let base = text.baseAddress, text.count <= Int32.max,
                      let buffer = xmlParserInputBufferCreateMem(base, Int32(text.count), XML_CHAR_ENCODING_NONE) else {
                    return nil
                }
                guard let input = xmlNewIOInputStream(parserContext, buffer, XML_CHAR_ENCODING_NONE) else {
                    xmlFreeParserInputBuffer(buffer)
                    return nil
                }
                // libxml2 frees the name with the input.
                input.pointee.filename = UnsafePointer(OpaquePointer(xmlStrdup(location)))
                return input
            }
        }
    }
}
