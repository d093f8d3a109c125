@testable import CPISDomain
import Foundation
import Testing
import XMLSupport

@Suite("building SMSP requests")
struct SMSPRequestBuilderTests {
    let builder = SMSPRequestBuilder(identity: Samples.identity)

    @Test("every request validates against the NHS schemas, for both author kinds",
          .enabled(if: NHSArtefacts.isPresent, Comment(rawValue: NHSArtefacts.missingMessage)))
    func validatesAgainstNHSSchemas() throws {
        let validator = try SMSPSchemaValidator(directory: NHSArtefacts.directory)
        for requester in [Samples.userRequester, Samples.systemRequester] {
            let request = try builder.build(nhsNumber: try NHSNumber("9434765919"), requester: requester)
            do {
                try validator.validate(request: request)
            } catch {
                Issue.record("\(requester.author): \(error) \(error.issues)")
            }
        }
    }

    @Test("the schema check is real: a request missing its NHS number fails it",
          .enabled(if: NHSArtefacts.isPresent, Comment(rawValue: NHSArtefacts.missingMessage)))
    func schemaCatchesDefects() throws {
        let validator = try SMSPSchemaValidator(directory: NHSArtefacts.directory)
        let request = try builder.build(nhsNumber: try NHSNumber("9434765919"), requester: Samples.userRequester)
        let broken = SMSPRequest(messageID: request.messageID, trackingID: request.trackingID,
                                 body: request.body.replacingOccurrences(
                                    of: "<queryByParameter>", with: "<queryByParameter><bogus/>"))
        #expect(throws: XMLError.self) { try validator.validate(request: broken) }
    }

    @Test("identifiers are fresh, upper-case, and consistent where the test tool requires it")
    func identifiers() throws {
        let first = try builder.build(nhsNumber: try NHSNumber("9434765919"), requester: Samples.userRequester)
        let second = try builder.build(nhsNumber: try NHSNumber("9434765919"), requester: Samples.userRequester)
        #expect(first.messageID != second.messageID)
        #expect(first.trackingID != second.trackingID)
        let document = try XMLDocument(parsing: Array(first.body.utf8))
        let ns = SMSPNamespaces.prefixes
        let messageID = try document.string(matching: "//wsa:MessageID", namespaces: ns)
        #expect(messageID == first.messageID)
        #expect(messageID == messageID?.uppercased())
        let manifestID = try document.string(matching: "//itk:manifestitem/@id", namespaces: ns)
        let payloadID = try document.string(matching: "//itk:payload/@id", namespaces: ns)
        #expect(manifestID == payloadID)
        #expect(payloadID?.hasPrefix("uuid_") == true)
        #expect(try document.string(matching: "//wsa:Action", namespaces: ns)
                == document.string(matching: "//itk:header/@service", namespaces: ns))
        #expect(try document.string(matching: "//itk:header/@trackingid", namespaces: ns)
                == first.trackingID.uppercased())
        #expect(try document.string(matching: "//wsa:To", namespaces: ns) == Samples.identity.endpoint)
        #expect(try document.string(matching: "//wsse:Username", namespaces: ns) == "cpis-worker")
        #expect(try document.string(matching: "//hl7:person.NHSnumber/hl7:value/@extension", namespaces: ns)
                == "9434765919")
        #expect(try document.string(matching: "//itk:senderAddress/@uri", namespaces: ns)
                == "urn:nhs-uk:addressing:ods:RKE")
        #expect(try document.string(matching: "//itk:manifestitem/@profileid", namespaces: ns)
                == "urn:nhs-en:profile:CP-ISNHSQuery-v2-0")
    }

    @Test("the timestamp is in UTC and expires after the configured lifetime")
    func timestamp() throws {
        let now = Samples.date("2026-11-24T14:30:00Z")
        let request = try builder.build(nhsNumber: try NHSNumber("9434765919"), requester: Samples.userRequester, at: now)
        #expect(request.body.contains("<wsu:Created>2026-11-24T14:30:00.000Z</wsu:Created>"))
        #expect(request.body.contains("<wsu:Expires>2026-11-24T14:35:00.000Z</wsu:Expires>"))
        #expect(request.body.contains("<effectiveTime value=\"20261124143000+0000\"/>"))
    }

    @Test("values are escaped: markup in a name cannot change the document")
    func escaping() throws {
        var paula = Samples.paula
        paula.name = PersonName(given: "</given><injected/>", family: "O'Brien & \"Co\"")
        let requester = Requester(organisation: Organisation(odsCode: "RKE", name: "A <b>bold</b> trust"),
                                  author: .user(paula))
        let request = try builder.build(nhsNumber: try NHSNumber("9434765919"), requester: requester)
        let document = try XMLDocument(parsing: Array(request.body.utf8))
        let ns = SMSPNamespaces.prefixes
        #expect(try document.elements(matching: "//hl7:injected", namespaces: ns).isEmpty)
        #expect(try document.string(matching: "//hl7:assignedAuthorPerson/hl7:name/hl7:given", namespaces: ns)
                == "</given><injected/>")
        #expect(try document.string(matching: "//hl7:assignedAuthorPerson/hl7:name/hl7:family", namespaces: ns)
                == "O'Brien & \"Co\"")
    }

    @Test("a request missing what Spine requires is refused before it is sent")
    func mandatoryFields() throws {
        var requester = Samples.userRequester
        requester.organisation.name = ""
        let error = #expect(throws: SMSPRequestError.self) {
            try builder.build(nhsNumber: try NHSNumber("9434765919"), requester: requester)
        }
        #expect(error?.missingFields == ["requester.organisation.name"])
    }

    @Test("an unattended request without an ASID uses the deployment's")
    func defaultASID() throws {
        guard case .system(var system) = Samples.systemRequester.author else { return }
        system.asid = ""
        let requester = Requester(organisation: Samples.organisation, author: .system(system))
        let request = try builder.build(nhsNumber: try NHSNumber("9434765919"), requester: requester)
        #expect(request.body.contains("extension=\"200000000999\""))
    }
}
