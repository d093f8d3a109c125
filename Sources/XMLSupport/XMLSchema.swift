internal import CLibXML2
import Foundation

/// A compiled W3C XML Schema, for validating documents.
///
/// Compile once, validate many times, from any thread: validation makes its own libxml2
/// validation context each time and never changes the compiled schema.
///
/// Compilation reads the schema file and the files it includes, imports or redefines, resolved
/// relative to the file that names them, from the local file system only: any other location
/// (http:, ftp:…) is refused, and the compilation fails.
public final class XMLSchema: @unchecked Sendable {
    // @unchecked Sendable is safe because `schema` is written once, in init, and libxml2 only
    // reads a compiled schema while validating (all validation state lives in the per-call
    // validation context); it is freed in deinit, when no other reference can exist.
    private let schema: xmlSchemaPtr
    /// The schema file, for messages.
    private let path: String

    /// Compiles the schema in a local file. This reads files and takes a moment: do it once, at
    /// start-up, and share the schema.
    ///
    /// - Parameters:
    ///   - url: a `file:` URL.
    ///   - normalisingProhibitedAttributeTypes: remove the inline `xs:simpleType` from every
    ///     `xs:attribute` declared `use="prohibited"`, in every schema document read, before libxml2
    ///     sees it. The NHS HL7 V3 schemas (CP-IS, Spine) need this: they declare such types in
    ///     about a hundred places, which XML Schema allows but libxml2 refuses to compile ("The
    ///     content is not valid. Expected is (annotation?)"). A prohibited attribute may not appear
    ///     at all, so its type constrains nothing and removing it changes nothing the schema
    ///     allows. The files are never changed: the normalised text exists only in memory. Line
    ///     numbers in compilation errors of normalised files refer to the normalised text.
    /// - Throws: ``XMLError/Code/schemaLoad``, with libxml2's messages as ``XMLError/issues``, if a
    ///   file cannot be read or the schema does not compile.
    public init(contentsOf url: URL, normalisingProhibitedAttributeTypes: Bool = false) throws(XMLError) {
        LibXML2.initialise()
        guard url.isFileURL else {
            throw XMLError(
                code: .schemaLoad, message: "schemas are read from local files only, not \(url.absoluteString)"
            )
        }
        path = url.standardizedFileURL.path
        schema = try SchemaCompilation.compile(path: path, normalising: normalisingProhibitedAttributeTypes)
    }

    // Freeing in deinit only releases memory: it cannot block or fail.
    deinit {
        xmlSchemaFree(schema)
    }

    /// Validates `document` against the schema.
    ///
    /// - Throws: ``XMLError/Code/schemaInvalid`` listing the problems (line and message each) in
    ///   ``XMLError/issues``, the first also in ``XMLError/line``; ``XMLError/Code/libraryFailure``
    ///   if libxml2 could not run the validation.
    public func validate(_ document: XMLDocument) throws(XMLError) {
        guard let context = xmlSchemaNewValidCtxt(schema) else {
            throw XMLError(code: .libraryFailure, message: "libxml2 could not create a schema validation context")
        }
        defer { xmlSchemaFreeValidCtxt(context) }
        let collector = LibXML2ErrorCollector()
        xmlSchemaSetValidStructuredErrors(context, LibXML2ErrorCollector.handler, collector.userData)
        let result = collector.capturing { xmlSchemaValidateDoc(context, document.pointer) }
        if result == 0, collector.issues.isEmpty {
            return
        }
        guard result >= 0 else {
            throw XMLError(code: .libraryFailure, message: "libxml2 could not validate against \(path)")
        }
        let first = collector.issues.first
        throw XMLError(
            code: .schemaInvalid,
            message: "not valid against \(path): \(first?.message ?? "libxml2 gave no reason")",
            line: first?.line,
            issues: collector.issues
        )
    }
}
