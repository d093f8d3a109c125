import Foundation
import XMLSupport

/// What a CP-IS query SOAP request carries, as an SMSP receives it: read, not judged. The SMSP
/// simulator judges it (``SMSPRequestReader`` leaves every field optional so that each missing one
/// can be reported by name).
public struct SMSPIncomingRequest: Sendable, Hashable {
    public var messageID: String?
    public var action: String?
    public var to: String?
    public var replyTo: String?
    /// `wsu:Timestamp/wsu:Created` and `wsu:Expires` as sent, and as dates when they are dates.
    public var created: String?
    public var expires: String?
    public var username: String?
    /// `itk:header/@service` and `@trackingid`.
    public var service: String?
    public var trackingID: String?
    /// `itk:auditIdentity/itk:id/@uri` (`urn:nhs-uk:identity:ods:<ODS>:<user>`) and
    /// `itk:senderAddress/@uri` (`urn:nhs-uk:addressing:ods:<ODS>`), as sent.
    public var auditIdentity: String?
    public var senderAddress: String?
    public var manifestItemIDs: [String] = []
    public var profileID: String?
    public var payloadIDs: [String] = []
    public var interaction: String?
    /// The payload's root element name, when there is a payload.
    public var payloadName: String?
    public var query: CPISQuery?

    /// Nothing read yet (for tests and tools that fill one in).
    public init() {}
}

/// The `cP-ISNHSQuery` of a request (and of each access history entry of an answer: the same class).
public struct CPISQuery: Sendable, Hashable {
    public var effectiveTime: String?
    public var id: String?
    public var nhsNumber: String?
    public var organisation: Organisation?
    public var author: AccessRecord.Author?
    /// A person author's SDS role profile id, when sent.
    public var sdsRoleProfileId: String?
    /// The job role, SDS user id (person) or ASID (system) and organisation details Spine requires
    /// that this query lacks, by name.
    public var missingFields: [String] = []

    public init(effectiveTime: String? = nil, id: String? = nil, nhsNumber: String? = nil) {
        self.effectiveTime = effectiveTime
        self.id = id
        self.nhsNumber = nhsNumber
    }
}

public enum SMSPRequestReader {
    /// - Throws: ``SMSPResponseError`` (`unreadable`, `notSOAP`) when the body is not a SOAP envelope.
    public static func read(_ body: some Collection<UInt8>, limits: XMLParsingLimits = .default)
        throws(SMSPResponseError) -> SMSPIncomingRequest
    {
        let document: XMLDocument
        do {
            document = try XMLDocument(parsing: body, limits: limits)
        } catch {
            throw SMSPResponseError(.unreadable, "the request is not well-formed XML: \(error)")
        }
        let root = document.rootElement
        guard root.is("Envelope", SMSPNamespaces.soap) else {
            throw SMSPResponseError(.notSOAP, "the request is <\(root.localName)>, not a SOAP 1.1 Envelope")
        }
        var request = SMSPIncomingRequest()
        if let header = root.child("Header", SMSPNamespaces.soap) {
            request.messageID = header.child("MessageID", SMSPNamespaces.addressing)?.trimmedText
            request.action = header.child("Action", SMSPNamespaces.addressing)?.trimmedText
            request.to = header.child("To", SMSPNamespaces.addressing)?.trimmedText
            request.replyTo = header.child("ReplyTo", SMSPNamespaces.addressing)?
                .child("Address", SMSPNamespaces.addressing)?.trimmedText
            if let security = header.child("Security", SMSPNamespaces.security) {
                let timestamp = security.child("Timestamp", SMSPNamespaces.securityUtility)
                request.created = timestamp?.child("Created", SMSPNamespaces.securityUtility)?.trimmedText
                request.expires = timestamp?.child("Expires", SMSPNamespaces.securityUtility)?.trimmedText
                request.username = security.child("UsernameToken", SMSPNamespaces.security)?
                    .child("Username", SMSPNamespaces.security)?.trimmedText
            }
        }
        guard let envelope = root.child("Body", SMSPNamespaces.soap)?.child("DistributionEnvelope", SMSPNamespaces.itk)
        else { return request }
        if let header = envelope.child("header", SMSPNamespaces.itk) {
            request.service = header.attribute("service")
            request.trackingID = header.attribute("trackingid")
            request.auditIdentity = header.child("auditIdentity", SMSPNamespaces.itk)?.child("id", SMSPNamespaces.itk)?
                .attribute("uri")
            request.senderAddress = header.child("senderAddress", SMSPNamespaces.itk)?.attribute("uri")
            let items = header.child("manifest", SMSPNamespaces.itk)?.children("manifestitem", SMSPNamespaces.itk) ?? []
            request.manifestItemIDs = items.compactMap { $0.attribute("id") }
            request.profileID = items.first?.attribute("profileid")
            request.interaction = header.child("handlingSpecification", SMSPNamespaces.itk)?
                .children("spec", SMSPNamespaces.itk)
                .first { $0.attribute("key") == SMSPConstants.interactionKey }?.attribute("value")
        }
        let payloads = envelope.child("payloads", SMSPNamespaces.itk)?.children("payload", SMSPNamespaces.itk) ?? []
        request.payloadIDs = payloads.compactMap { $0.attribute("id") }
        if let payload = payloads.first?.childElements.first {
            request.payloadName = payload.localName
            if payload.is("CP-ISQueryStub", SMSPNamespaces.hl7), let query = payload.child("cP-ISNHSQuery") {
                request.query = readQuery(query)
            }
        }
        return request
    }

    /// Reads a `cP-ISNHSQuery` / `pertinentCP-ISNHSQuery` element.
    static func readQuery(_ query: some XMLElementReading) -> CPISQuery {
        var result = CPISQuery(
            effectiveTime: query.child("effectiveTime")?.attribute("value"),
            id: query.child("id")?.attribute("root"),
            nhsNumber: query.child("queryByParameter")?.child("person.NHSnumber")?.child("value")?
                .attribute("extension")?.trimmed)
        guard let author = query.child("author") else {
            result.missingFields.append("author")
            return result
        }
        func require(_ value: String?, _ name: String) {
            if value?.trimmed.isEmpty ?? true { result.missingFields.append(name) }
        }
        if let person = author.child("COCT_TP145102GB01.AssignedAuthor") {
            let organisation = person.child("representedOrganization")
            let jobRole = person.child("code").flatMap(readJobRole)
            let ids = person.children("id")
            let sdsUserId = ids.first { $0.attribute("root") == SMSPConstants.sdsUserIdRoot }?.attribute("extension")
            result.sdsRoleProfileId = ids.first { $0.attribute("root") == SMSPConstants.sdsRoleProfileIdRoot }?
                .attribute("extension")
            require(jobRole?.code, "job role code")
            require(jobRole?.displayName, "job role name")
            require(sdsUserId, "SDS user id")
            require(organisation?.child("id")?.attribute("extension"), "organisation code")
            require(organisation?.child("name")?.trimmedText, "organisation name")
            result.organisation = organisation.flatMap(readOrganisation)
            result.author = .user(name: person.child("assignedAuthorPerson")?.child("name").map(readName),
                                  jobRole: jobRole, sdsUserId: sdsUserId)
        } else if let system = author.child("COCT_TP145104GB01.System") {
            let organisation = system.child("maintainingOrganization")
            let responsible = system.child("indirectAuthority")?.child("superiorAssignedEntity")
            let asid = system.child("id")?.attribute("extension")
            require(asid, "system id (ASID)")
            require(organisation?.child("id")?.attribute("extension"), "organisation code")
            require(organisation?.child("name")?.trimmedText, "organisation name")
            result.organisation = organisation.flatMap(readOrganisation)
            result.author = .system(asid: asid,
                                    nominatedPerson: responsible?.child("assignedPerson")?.child("name").map(readName),
                                    jobRole: responsible?.child("code").flatMap(readJobRole))
        } else {
            result.missingFields.append("author (a person or a system)")
        }
        return result
    }

    static func readName(_ name: some XMLElementReading) -> PersonName {
        func part(_ partName: String) -> String? {
            let parts = name.children(partName).map(\.trimmedText).filter { !$0.isEmpty }
            return parts.isEmpty ? nil : parts.joined(separator: " ")
        }
        return PersonName(prefix: part("prefix"), given: part("given"), family: part("family"))
    }

    static func readOrganisation(_ organisation: some XMLElementReading) -> Organisation? {
        guard let odsCode = organisation.child("id")?.attribute("extension") else { return nil }
        return Organisation(odsCode: odsCode, name: organisation.child("name")?.trimmedText ?? "")
    }

    static func readJobRole(_ code: some XMLElementReading) -> JobRole? {
        guard let value = code.attribute("code") else { return nil }
        return JobRole(code: value, displayName: code.attribute("displayName") ?? "")
    }
}

