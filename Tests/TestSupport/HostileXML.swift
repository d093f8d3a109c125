/// XML documents that attack their parser, one attack each, for the tests of everything that reads
/// XML from other systems (XMLSupport itself, and the services that take SOAP requests).
///
/// Each comes as a bare document (root element `r`) or inside a SOAP 1.1 envelope, so that a
/// service's tests can send it where a real request goes. A document type declaration, where the
/// attack needs one, comes first, as XML requires.
public enum HostileXML {
    /// What surrounds an attack's content.
    public enum Frame: Sendable {
        /// A bare root element `<r>` holding the attack's content.
        case bare
        /// A SOAP 1.1 envelope whose Body holds `body` (e.g. an otherwise valid request), then the
        /// attack's content.
        case soap(body: String)
    }

    /// The SOAP 1.1 envelope namespace.
    public static let soapNamespace = "http://schemas.xmlsoap.org/soap/envelope/"

    /// XXE: an external entity naming `url` (`/etc/passwd` unless given), used in the content. A
    /// parser that loads external entities puts the file or the URL's answer in the document.
    public static func externalEntity(_ url: String = "file:///etc/passwd", in frame: Frame = .bare) -> String {
        document(declaring: "<!ENTITY xxe SYSTEM \"\(url)\">", content: "&xxe;", in: frame)
    }

    /// XXE through a parameter entity naming `url`, used inside the DTD itself: the usual way to send
    /// a file's contents out, because the loaded DTD can declare entities of its own.
    public static func externalParameterEntity(_ url: String, in frame: Frame = .bare) -> String {
        document(declaring: "<!ENTITY % xxe SYSTEM \"\(url)\"> %xxe;", content: "", in: frame)
    }

    /// A document whose DTD is external, at `url`: a parser that loads it contacts the URL.
    public static func externalDTD(_ url: String, in frame: Frame = .bare) -> String {
        let (rootName, open, close) = frame.parts
        return "<?xml version=\"1.0\"?>\n<!DOCTYPE \(rootName) SYSTEM \"\(url)\">\n\(open)\(close)"
    }

    /// A document type declaration with nothing hostile in it; SOAP forbids even this.
    public static func harmlessDocumentType(in frame: Frame = .bare) -> String {
        document(declaring: "<!ENTITY greeting \"hello\">", content: "&greeting;", in: frame)
    }

    /// Billion laughs: each of `levels` (at least 1) entities refers ten times to the one before, so
    /// the last expands to 3 × 10^`levels` characters (3 GB for 9 levels) from a document of about 1 KB.
    public static func billionLaughs(levels: Int = 9, in frame: Frame = .bare) -> String {
        var declarations = #"<!ENTITY lol0 "lol">"#
        for level in 1...levels {
            declarations += "\n<!ENTITY lol\(level) \"\(String(repeating: "&lol\(level - 1);", count: 10))\">"
        }
        return document(declaring: declarations, content: "&lol\(levels);", in: frame)
    }

    /// Quadratic blowup: one large entity referred to many times, which no nesting limit catches;
    /// expanded, the defaults make 3 GB from a document of under 200 KB.
    public static func quadraticBlowup(entityBytes: Int = 100_000, references: Int = 30_000, in frame: Frame = .bare) -> String {
        document(declaring: "<!ENTITY big \"\(String(repeating: "a", count: entityBytes))\">",
                 content: String(repeating: "&big;", count: references), in: frame)
    }

    /// Elements nested `depth` deep: a recursive parser or tree walker runs out of stack.
    public static func deepNesting(depth: Int = 100_000, in frame: Frame = .bare) -> String {
        document(content: String(repeating: "<a>", count: depth) + String(repeating: "</a>", count: depth), in: frame)
    }

    /// An element with one attribute value of `bytes` bytes.
    public static func hugeAttribute(bytes: Int = 5 * 1024 * 1024, in frame: Frame = .bare) -> String {
        document(content: "<a v=\"\(String(repeating: "x", count: bytes))\"/>", in: frame)
    }

    /// A harmless document of `bytes` + 1 bytes (text padding), for a size limit of `bytes`.
    public static func larger(than bytes: Int, in frame: Frame = .bare) -> String {
        let empty = document(content: "", in: frame)
        return document(content: String(repeating: "x", count: max(bytes + 1 - empty.utf8.count, 0)), in: frame)
    }

    /// An XML declaration, then a document type declaration with `declarations` as its internal
    /// subset when there are any, then the frame around `content`.
    /// Every document here that has a document type declaration, named: what a reader refusing
    /// DOCTYPEs must refuse, as such and without fetching anything from `url` (a listener's).
    public static func documentTypeDeclarations(fetchingFrom url: String, in frame: Frame) -> [(name: String, document: String)] {
        [
            ("XXE to a file", externalEntity(in: frame)),
            ("XXE to a URL", externalEntity("\(url)/entity", in: frame)),
            ("XXE through a parameter entity", externalParameterEntity("\(url)/p.dtd", in: frame)),
            ("external DTD", externalDTD("\(url)/x.dtd", in: frame)),
            ("billion laughs", billionLaughs(in: frame)),
            ("quadratic blowup", quadraticBlowup(in: frame)),
            ("harmless DOCTYPE", harmlessDocumentType(in: frame)),
            // Refused for its DOCTYPE, not as malformed: the subset is never read.
            ("malformed internal subset", "<!DOCTYPE r [ <!ENTITY broken ]>\n<r/>"),
        ]
    }

    private static func document(declaring declarations: String? = nil, content: String, in frame: Frame) -> String {
        let (rootName, open, close) = frame.parts
        let doctype = declarations.map { "<!DOCTYPE \(rootName) [\n\($0)\n]>\n" } ?? ""
        return "<?xml version=\"1.0\"?>\n\(doctype)\(open)\(content)\(close)"
    }
}

private extension HostileXML.Frame {
    /// The root element's name, and the markup before and after an attack's content.
    var parts: (rootName: String, open: String, close: String) {
        switch self {
        case .bare:
            ("r", "<r>", "</r>")
        case .soap(let body):
            ("soap:Envelope", "<soap:Envelope xmlns:soap=\"\(HostileXML.soapNamespace)\"><soap:Body>\(body)",
             "</soap:Body></soap:Envelope>")
        }
    }
}
