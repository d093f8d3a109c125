import Foundation
import Testing
import XMLSupport

/// Namespaces the tests register for XPath. The prefixes differ from the documents' on purpose:
/// queries must match by namespace, not by prefix.
enum Namespace {
    static let soap = "http://schemas.xmlsoap.org/soap/envelope/"
    static let addressing = "http://www.w3.org/2005/08/addressing"
    static let itk = "urn:nhs-itk:ns:201005"
    static let hl7 = "urn:hl7-org:v3"
    static let xsi = "http://www.w3.org/2001/XMLSchema-instance"
    static let notSOAP = "urn:example:not-soap"

    static let prefixes = [
        "s": soap, "a": addressing, "d": itk, "hl7": hl7, "xsi": xsi, "n": notSOAP,
    ]
}

/// The NHS reference artefacts, in `../shared/nhs` from the package root (absent in a user's
/// clone, where the tests that need them are skipped).
enum NHSArtefacts {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent() // XMLSupportTests
        .deletingLastPathComponent() // Tests
        .deletingLastPathComponent() // package root
        .appendingPathComponent("../shared/nhs")
        .standardizedFileURL

    static var available: Bool {
        FileManager.default.fileExists(atPath: root.path)
    }

    static let skipReason: Comment =
        "NHS artefacts not found at ../shared/nhs from the package root (a clone without shared/)"

    static func url(_ relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }
}

/// A directory of its own under the system's temporary directory, removed when released.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("XMLSupportTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// Writes `text` to `relativePath` (creating folders) and returns its URL.
    @discardableResult
    func write(_ text: String, to relativePath: String) throws -> URL {
        let file = url.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true
        )
        try Data(text.utf8).write(to: file)
        return file
    }
}

/// Parses UTF-8 text.
func parse(_ text: String, limits: XMLParsingLimits = .default) throws(XMLError) -> XMLDocument {
    try XMLDocument(parsing: Array(text.utf8), limits: limits)
}

