import Foundation
import Testing
import TestSupport
import XMLSupport

@Suite("DTDs and entities are parsed but never expanded or loaded")
struct EntityHardeningTests {
    @Test func theListenerSeesAConnectionWhenThereIsOne() throws {
        // Without this, "zero connections" below would prove nothing.
        let listener = try LoopbackListener()
        #expect(listener.connectAndClose())
        #expect(listener.connectionCount() == 1)
        #expect(listener.connectionCount() == 0)
    }

    @Test func entitiesAreNeitherExpandedNorLoaded() throws {
        let listener = try LoopbackListener()
        let directory = try TemporaryDirectory()
        let secret = "SECRET-\(UUID().uuidString)"
        let secretFile = try directory.write(secret, to: "secret.txt")
        let text = """
        <?xml version="1.0"?>
        <!DOCTYPE r [
          <!ENTITY internal "EXPANDED">
          <!ENTITY file SYSTEM "\(secretFile.absoluteString)">
          <!ENTITY network SYSTEM "http://127.0.0.1:\(listener.port)/x">
          <!ENTITY % parameter SYSTEM "http://127.0.0.1:\(listener.port)/p.dtd">
          %parameter;
        ]>
        <r a="[&internal;]"><t>before &internal; &file; &network; after</t></r>
        """
        let document = try parse(text)
        #expect(document.hasDocumentTypeDeclaration)
        let root = document.rootElement
        for value in [root.text, try document.string(matching: "/r/t") ?? "", root.attribute("a") ?? ""] {
            #expect(!value.contains("EXPANDED"))
            #expect(!value.contains(secret))
        }
        #expect(root.text == "before    after")
        #expect(root.attribute("a") == "[]")
        #expect(listener.connectionCount() == 0)
    }

    @Test func externalDTDIsNotLoaded() throws {
        let listener = try LoopbackListener()
        let document = try parse(HostileXML.externalDTD("http://127.0.0.1:\(listener.port)/x.dtd", in: .soap(body: "ok")))
        #expect(document.hasDocumentTypeDeclaration)
        #expect(document.rootElement.text == "ok")
        #expect(listener.connectionCount() == 0)
    }

    @Test func billionLaughsNeverExpands() throws {
        // libxml2 refuses it (its amplification limit); were it to parse it, nothing may be expanded.
        do throws(XMLError) {
            let document = try parse(HostileXML.billionLaughs())
            #expect(!document.rootElement.text.contains("lol"))
        } catch {
            #expect(error.code == .notWellFormed)
        }
    }

    @Test func quadraticBlowupIsNotExpanded() throws {
        // Expanded, this would be 3 GB of text; unexpanded, the references leave nothing.
        let document = try parse(HostileXML.quadraticBlowup())
        #expect(document.rootElement.text.isEmpty)
    }

    #if os(Linux)
    @Test func theWatcherSeesAFileBeingRead() throws {
        // Without this, "never opened" below would prove nothing.
        let directory = try TemporaryDirectory()
        let file = try directory.write("secret", to: "secret.txt")
        let watcher = try FileOpenWatcher(path: file.path)
        _ = try Data(contentsOf: file)
        #expect(watcher.openCount() == 1)
        #expect(watcher.openCount() == 0)
    }

    @Test(arguments: [XMLParsingLimits.default, XMLParsingLimits(allowsDocumentTypeDeclaration: false)])
    func externalEntitiesToFilesAreNeverOpened(limits: XMLParsingLimits) throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write("secret", to: "secret.txt")
        let watcher = try FileOpenWatcher(path: file.path)
        for text in [HostileXML.externalEntity(file.absoluteString), HostileXML.externalParameterEntity(file.absoluteString),
                     HostileXML.externalDTD(file.absoluteString)] {
            _ = try? parse(text, limits: limits)
        }
        #expect(watcher.openCount() == 0)
    }
    #endif
}

/// What the front door asks for: SOAP 1.1 forbids a DTD in a message, and every entity attack needs one.
@Suite("With DOCTYPEs refused, every entity attack is refused before its declarations are read")
struct DocumentTypeRefusalTests {
    private let soapLimits = XMLParsingLimits(allowsDocumentTypeDeclaration: false)

    @Test(arguments: [HostileXML.Frame.bare, .soap(body: #"<m:Request xmlns:m="urn:example"/>"#)])
    func everyDocumentTypeDeclarationIsRefused(frame: HostileXML.Frame) throws {
        let listener = try LoopbackListener()
        let url = "http://127.0.0.1:\(listener.port)"
        for (name, text) in HostileXML.documentTypeDeclarations(fetchingFrom: url, in: frame) {
            let error = #expect(throws: XMLError.self, "\(name)") { try parse(text, limits: soapLimits) }
            #expect(error?.code == .documentTypeDeclarationNotAllowed, "\(name)")
            #expect(error?.message.contains("DOCTYPE") == true, "\(name)")
        }
        #expect(listener.connectionCount() == 0)
    }

    @Test func aDocumentWithoutOneIsParsed() throws {
        let document = try parse(HostileXML.larger(than: 1000, in: .soap(body: #"<m:Request xmlns:m="urn:example"/>"#)),
                                 limits: soapLimits)
        #expect(!document.hasDocumentTypeDeclaration)
        #expect(document.rootElement.localName == "Envelope")
        #expect(document.rootElement.namespaceURI == HostileXML.soapNamespace)
    }
}
