import Foundation
import XMLSupport

/// Who this deployment is to Spine when it is the SMSP itself (wire format `spine-hl7v3-wire.md`).
public struct SpineIdentity: Sendable, Hashable {
    /// Spine's endpoint URL for the CP-IS query (SDS `nhsMHSEndPoint`), also sent as `wsa:To`.
    public var endpoint: String
    /// Our ASID: the sending device, the control act's author, and the system author of unattended
    /// queries that name none.
    public var asid: String
    /// Our party key (SDS), recorded for audit; the synchronous route does not send it.
    public var partyKey: String?
    /// Spine CP-IS's ASID (SDS), the receiving device.
    public var spineASID: String
    /// Our address (`wsa:From`, `wsa:ReplyTo`), optional.
    public var fromAddress: String?
    /// The transmission wrapper's `versionCode` (unconfirmed in public sources, hence a setting).
    public var versionCode: String

    public init(endpoint: String, asid: String, partyKey: String? = nil, spineASID: String, fromAddress: String? = nil,
                versionCode: String = "v3INF_DMSv5.7:FIN") {
        self.endpoint = endpoint
        self.asid = asid
        self.partyKey = partyKey
        self.spineASID = spineASID
        self.fromAddress = fromAddress
        self.versionCode = versionCode
    }
}

/// The XML namespaces and fixed values of the Spine leg (wire format §1–§4).
public enum SpineConstants {
    /// WS-Addressing 2004/08: Spine's, not the 2005/08 of the SMSP API.
    public static let addressing = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
    public static let service = "urn:nhs:names:services:cpisquery"
    public static let queryInteraction = "QUPC_IN000006GB01"
    /// The SOAPAction header and `wsa:Action`: `{service}/{interaction}`, unquoted.
    public static let queryAction = "\(service)/\(queryInteraction)"
    /// The fault detail's namespace (`nasp:errorList`).
    public static let nasp = "http://national.carerecords.nhs.uk/schema/"
    /// ebXML's message header namespace (`eb:ErrorList`).
    public static let ebXML = "http://www.oasis-open.org/committees/ebxml-msg/schema/msg-header-2_0.xsd"
    static let interactionIdRoot = "2.16.840.1.113883.2.1.3.2.4.12"
}

/// A CP-IS query ready to send to Spine.
public struct SpineRequest: Sendable, Hashable {
    /// The HL7 transmission wrapper's `id/@root`, an upper-case UUID: QUQI and MCCI answers name it.
    public let hl7MessageID: String
    /// `wsa:MessageID`: `uuid:` and the same UUID (41 characters, as Spine checks).
    public var messageID: String { "uuid:\(hl7MessageID)" }
    public let soapAction = SpineConstants.queryAction
    /// The SOAP 1.1 envelope, UTF-8.
    public let body: String
    /// The author as sent, for the audit record.
    public let author: Requester
}

/// Builds Spine's CP-IS query, QUPC_IN000006GB01, in its SOAP envelope (wire format §3 and §4): the
/// transmission wrapper and control act around the same `CP-ISQueryStub` the SMSP API carries.
public struct SpineRequestBuilder: Sendable {
    public let identity: SpineIdentity

    public init(identity: SpineIdentity) {
        self.identity = identity
    }

    /// - Parameter id: the message's UUID (upper case), fresh for every query; `queryID` the stub's.
    public func build(nhsNumber: NHSNumber, requester: Requester, at now: Date = Date(), id: String = FreshUUID.string(),
                      queryID: String = FreshUUID.string()) throws(SMSPRequestError) -> SpineRequest {
        // A system author without an ASID asks as this deployment (open question 3 of the wire document).
        let requester = requester.withSystemASID(ifMissing: identity.asid)
        let missing = requester.missingMandatoryFields()
        guard missing.isEmpty else { throw SMSPRequestError(missingFields: missing) }
        let messageID = "uuid:\(id)"
        let time = HL7Time.utcDigits(now)
        let from: XMLMarkup? = identity.fromAddress.map { "<wsa:From><wsa:Address>\($0)</wsa:Address></wsa:From>" }
        let replyTo: XMLMarkup? = identity.fromAddress.map { "<wsa:ReplyTo><wsa:Address>\($0)</wsa:Address></wsa:ReplyTo>" }
        let envelope: XMLMarkup = """
            <?xml version="1.0" encoding="UTF-8"?>
            <SOAP-ENV:Envelope xmlns:SOAP-ENV="\(SMSPNamespaces.soap)" xmlns:wsa="\(SpineConstants.addressing)" \
            xmlns:hl7="\(SMSPNamespaces.hl7)">
            <SOAP-ENV:Header>
            <wsa:MessageID>\(messageID)</wsa:MessageID>
            <wsa:Action>\(SpineConstants.queryAction)</wsa:Action>
            <wsa:To>\(identity.endpoint)</wsa:To>
            \(from)<hl7:communicationFunctionRcv><hl7:device><hl7:id root="\(SMSPConstants.asidRoot)" \
            extension="\(identity.spineASID)"/></hl7:device></hl7:communicationFunctionRcv>
            <hl7:communicationFunctionSnd><hl7:device><hl7:id root="\(SMSPConstants.asidRoot)" \
            extension="\(identity.asid)"/></hl7:device></hl7:communicationFunctionSnd>
            \(replyTo)</SOAP-ENV:Header>
            <SOAP-ENV:Body>
            <QUPC_IN000006GB01 xmlns="\(SMSPNamespaces.hl7)" xmlns:npfitlc="\(SMSPNamespaces.npfitLocalisation)">
            <id root="\(id)"/>
            <creationTime value="\(time)"/>
            <versionCode code="\(identity.versionCode)"/>
            <interactionId root="\(SpineConstants.interactionIdRoot)" extension="\(SpineConstants.queryInteraction)"/>
            <processingCode code="P"/>
            <processingModeCode code="T"/>
            <acceptAckCode code="NE"/>
            <communicationFunctionRcv typeCode="RCV"><device classCode="DEV" determinerCode="INSTANCE">\
            \(Self.device(identity.spineASID))</device></communicationFunctionRcv>
            <communicationFunctionSnd typeCode="SND"><device classCode="DEV" determinerCode="INSTANCE">\
            \(Self.device(identity.asid))</device></communicationFunctionSnd>
            <ControlActEvent classCode="CACT" moodCode="EVN">
            <author1 typeCode="AUT"><AgentSystemSDS classCode="AGNT"><agentSystemSDS classCode="DEV" determinerCode="INSTANCE">\
            \(Self.device(identity.asid))</agentSystemSDS></AgentSystemSDS></author1>
            <subject typeCode="SUBJ">
            \(SMSPRequestBuilder.queryStub(nhsNumber: nhsNumber, requester: requester, at: now, id: queryID))
            </subject>
            </ControlActEvent>
            </QUPC_IN000006GB01>
            </SOAP-ENV:Body>
            </SOAP-ENV:Envelope>
            """
        return SpineRequest(hl7MessageID: id, body: envelope.text, author: requester)
    }

    private static func device(_ asid: String) -> XMLMarkup {
        "<id root=\"\(SMSPConstants.asidRoot)\" extension=\"\(asid)\"/>"
    }
}
