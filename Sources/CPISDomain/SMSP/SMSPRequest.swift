import Foundation
import XMLSupport

/// A CP-IS query ready to send: the SOAP envelope and the identifiers it carries.
public struct SMSPRequest: Sendable, Hashable {
    /// `wsa:MessageID`; an answer's `wsa:RelatesTo` names it.
    public let messageID: String
    /// `itk:header/@trackingid`.
    public let trackingID: String
    public let soapAction = SMSPConstants.requestService
    /// The SOAP 1.1 envelope, UTF-8.
    public let body: String
}

/// The identifiers that must be fresh for every message (the NHS test tool rejects reuse).
public struct SMSPMessageIDs: Sendable, Hashable {
    public var messageID: String
    public var trackingID: String
    public var payloadID: String
    public var queryID: String
    public var timestampID: String

    public init(messageID: String, trackingID: String, payloadID: String, queryID: String, timestampID: String) {
        self.messageID = messageID
        self.trackingID = trackingID
        self.payloadID = payloadID
        self.queryID = queryID
        self.timestampID = timestampID
    }

    /// Fresh upper-case UUIDs.
    public static func random() -> SMSPMessageIDs {
        SMSPMessageIDs(messageID: FreshUUID.string(), trackingID: FreshUUID.string(), payloadID: FreshUUID.string(),
                       queryID: FreshUUID.string(), timestampID: FreshUUID.string())
    }
}

/// Why a query cannot be sent.
public struct SMSPRequestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The mandatory fields Spine requires that the request lacks.
    public let missingFields: [String]

    public var description: String {
        "the request lacks what Spine requires: \(missingFields.joined(separator: ", "))"
    }
}

/// Builds the SOAP request an SMSP endpoint accepts for a CP-IS query (wire format, section 3).
public struct SMSPRequestBuilder: Sendable {
    public let identity: SMSPIdentity

    public init(identity: SMSPIdentity) {
        self.identity = identity
    }

    public func build(nhsNumber: NHSNumber, requester: Requester, at now: Date = Date(),
                      ids: SMSPMessageIDs = .random()) throws(SMSPRequestError) -> SMSPRequest {
        let requester = identity.asid.map(requester.withSystemASID(ifMissing:)) ?? requester
        let missing = requester.missingMandatoryFields()
        guard missing.isEmpty else { throw SMSPRequestError(missingFields: missing) }

        let expires = now.addingTimeInterval(TimeInterval(identity.timestampLifetime.components.seconds))
        let ods = requester.organisation.odsCode
        let localUser: String = switch requester.author {
        case .user(let user): user.sdsUserId
        case .system(let system): system.asid
        }
        let from: XMLMarkup? = identity.fromAddress.map { "<wsa:From><wsa:Address>\($0)</wsa:Address></wsa:From>" }
        let envelope: XMLMarkup = """
            <?xml version="1.0" encoding="UTF-8"?>
            <soap:Envelope xmlns:soap="\(SMSPNamespaces.soap)" xmlns:wsa="\(SMSPNamespaces.addressing)" \
            xmlns:wsse="\(SMSPNamespaces.security)" xmlns:wsu="\(SMSPNamespaces.securityUtility)" \
            xmlns:itk="\(SMSPNamespaces.itk)">
            <soap:Header>
            <wsa:MessageID>\(ids.messageID)</wsa:MessageID>
            <wsa:Action>\(SMSPConstants.requestService)</wsa:Action>
            <wsa:To>\(identity.endpoint)</wsa:To>
            \(from)<wsa:ReplyTo><wsa:Address>\(SMSPConstants.anonymousAddress)</wsa:Address></wsa:ReplyTo>
            <wsse:Security>
            <wsu:Timestamp wsu:Id="\(ids.timestampID)">
            <wsu:Created>\(UTCTimestamp.string(now))</wsu:Created>
            <wsu:Expires>\(UTCTimestamp.string(expires))</wsu:Expires>
            </wsu:Timestamp>
            <wsse:UsernameToken><wsse:Username>\(identity.username)</wsse:Username></wsse:UsernameToken>
            </wsse:Security>
            </soap:Header>
            <soap:Body>
            \(DistributionEnvelope(
                service: SMSPConstants.requestService, trackingID: ids.trackingID,
                auditIdentity: "urn:nhs-uk:identity:ods:\(ods):\(localUser)", payloadID: ids.payloadID,
                profileID: identity.profileId, senderODSCode: identity.senderODSCode ?? ods,
                interaction: SMSPConstants.queryInteraction,
                payload: Self.queryStub(nhsNumber: nhsNumber, requester: requester, at: now, id: ids.queryID)
            ).markup(declaringNamespace: false))
            </soap:Body>
            </soap:Envelope>
            """
        return SMSPRequest(messageID: ids.messageID, trackingID: ids.trackingID, body: envelope.text)
    }

    /// The HL7 payload: `QUPC_MT000006GB01` `CP-ISQueryStub`.
    static func queryStub(nhsNumber: NHSNumber, requester: Requester, at now: Date, id: String) -> XMLMarkup {
        """
        <CP-ISQueryStub xmlns="\(SMSPNamespaces.hl7)" xmlns:npfitlc="\(SMSPNamespaces.npfitLocalisation)">
        <cP-ISNHSQuery>
        <effectiveTime value="\(HL7Time.timestamp(now))"/>
        <id root="\(id)"/>
        \(author(requester))
        <queryByParameter><person.NHSnumber><value extension="\(nhsNumber.digits)"/></person.NHSnumber></queryByParameter>
        </cP-ISNHSQuery>
        </CP-ISQueryStub>
        """
    }

    /// One of the two author templates (wire format, section 3).
    static func author(_ requester: Requester) -> XMLMarkup {
        let organisation = requester.organisation
        switch requester.author {
        case .user(let user):
            let roleProfile: XMLMarkup? = user.sdsRoleProfileId.map {
                "<id root=\"\(SMSPConstants.sdsRoleProfileIdRoot)\" extension=\"\($0)\"/>"
            }
            return """
                <author>
                <npfitlc:contentId root="\(SMSPConstants.templateIdRoot)" extension="COCT_TP145102GB01#AssignedAuthor"/>
                <COCT_TP145102GB01.AssignedAuthor>
                \(jobRole(user.jobRole))
                <id root="\(SMSPConstants.sdsUserIdRoot)" extension="\(user.sdsUserId)"/>
                \(roleProfile)
                <assignedAuthorPerson>\(name(user.name))</assignedAuthorPerson>
                <representedOrganization>\(organisationIdentity(organisation))</representedOrganization>
                </COCT_TP145102GB01.AssignedAuthor>
                </author>
                """
        case .system(let system):
            return """
                <author>
                <npfitlc:contentId root="\(SMSPConstants.templateIdRoot)" extension="COCT_TP145104GB01#System"/>
                <COCT_TP145104GB01.System>
                <id root="\(SMSPConstants.asidRoot)" extension="\(system.asid)"/>
                <indirectAuthority>
                <superiorAssignedEntity>
                \(jobRole(system.nominatedPerson.jobRole))
                <assignedPerson>\(name(system.nominatedPerson.name))</assignedPerson>
                </superiorAssignedEntity>
                </indirectAuthority>
                <maintainingOrganization>\(organisationIdentity(organisation))</maintainingOrganization>
                </COCT_TP145104GB01.System>
                </author>
                """
        }
    }

    private static func jobRole(_ role: JobRole) -> XMLMarkup {
        "<code code=\"\(role.code)\" displayName=\"\(role.displayName)\" codeSystem=\"\(SMSPConstants.jobRoleCodeSystem)\"/>"
    }

    private static func organisationIdentity(_ organisation: Organisation) -> XMLMarkup {
        "<id root=\"\(SMSPConstants.odsRoot)\" extension=\"\(organisation.odsCode)\"/><name>\(organisation.name)</name>"
    }

    static func name(_ name: PersonName) -> XMLMarkup {
        "<name>\(element: "prefix", name.prefix)\(element: "given", name.given)\(element: "family", name.family)</name>"
    }
}
