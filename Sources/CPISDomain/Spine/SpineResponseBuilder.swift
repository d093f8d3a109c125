import Foundation
import XMLSupport

/// Writes Spine's answers to QUPC_IN000006GB01 (wire format §5), as the Spine simulator sends them:
/// the inverse of ``SpineResponseReader``, in the shapes of NHS Digital's test harness (a synchronous
/// `CP-ISNHSQueryResponse` wrapper around REPC and QUQI; MCCI bare; SOAP faults with HTTP 500).
public enum SpineResponseBuilder {
    /// Who answers, and to which query.
    public struct Addressing: Sendable {
        /// Our answer's recipient: the query's `wsa:MessageID` and HL7 id, and the sender's ASID.
        public var relatesTo: String
        public var queryHL7ID: String
        public var senderASID: String
        /// Spine CP-IS's own ASID.
        public var spineASID: String

        public init(relatesTo: String, queryHL7ID: String, senderASID: String, spineASID: String) {
            self.relatesTo = relatesTo
            self.queryHL7ID = queryHL7ID
            self.senderASID = senderASID
            self.spineASID = spineASID
        }
    }

    /// REPC_IN000007GB01: the records (`answer`'s response code is not sent: Spine has none).
    public static func records(_ answer: CPISAnswer, to addressing: Addressing, at now: Date = Date()) -> String {
        let controlAct: XMLMarkup = """
            <subject typeCode="SUBJ">\(SMSPResponseBuilder.payload(answer, withResponseCode: false))</subject>
            <queryAck type="QueryAck"><queryResponseCode code="OK"/></queryAck>
            """
        return envelope(interaction: "REPC_IN000007GB01", versionCode: "v3INF_DMSv5.7:FIN", to: addressing, at: now,
                        acknowledgement: nil, controlAct: controlAct, syncWrapper: true)
    }

    /// QUQI_IN010000UK14: the query act failed, for these reasons (not found: `1` and `NHSNCC002`).
    public static func queryActFailed(_ reasons: [SpineReason], to addressing: Addressing, at now: Date = Date()) -> String {
        let controlAct: XMLMarkup = """
            \(XMLMarkup(joining: reasons.map(reason)))
            <queryAck type="QueryAck"><queryResponseCode code="ID"/></queryAck>
            """
        return envelope(interaction: "QUQI_IN010000UK14", versionCode: "V3NPfIT3.0", to: addressing, at: now,
                        acknowledgement: "AE", controlAct: controlAct, syncWrapper: true)
    }

    /// MCCI_IN010000UK13: an application acknowledgement (`AE` error, `AR` reject) with its reasons.
    public static func acknowledgement(_ typeCode: String, _ reasons: [SpineReason], to addressing: Addressing,
                                       at now: Date = Date()) -> String {
        envelope(interaction: "MCCI_IN010000UK13", versionCode: "V3NPfIT3.0", to: addressing, at: now,
                 acknowledgement: typeCode, controlAct: XMLMarkup(joining: reasons.map(reason)), syncWrapper: false)
    }

    /// A SOAP 1.1 fault (sent with HTTP 500), `faultcode` `SOAP:Client` or `SOAP:Server`.
    public static func fault(client: Bool, _ string: String, _ errors: [SpineError]) -> String {
        let list = errors.map { error -> XMLMarkup in
            """
            <nasp:error><nasp:codeContext>\(error.codeContext ?? "urn:nhs:names:error:tms")</nasp:codeContext>\
            <nasp:errorCode>\(error.errorCode)</nasp:errorCode><nasp:severity>\(error.severity ?? "Error")</nasp:severity>\
            <nasp:location>\(error.location ?? "")</nasp:location><nasp:description>\(error.description)</nasp:description></nasp:error>
            """
        }
        let markup: XMLMarkup = """
            <?xml version="1.0" encoding="UTF-8"?>
            <SOAP:Envelope xmlns:SOAP="\(SMSPNamespaces.soap)" xmlns:nasp="\(SpineConstants.nasp)">
            <SOAP:Body><SOAP:Fault><faultcode>\(client ? "SOAP:Client" : "SOAP:Server")</faultcode>\
            <faultstring>\(string)</faultstring><detail><nasp:errorList>\(XMLMarkup(joining: list))</nasp:errorList></detail>\
            </SOAP:Fault></SOAP:Body>
            </SOAP:Envelope>
            """
        return markup.text
    }

    /// An ebXML MessageError: HTTP 200, an `eb:ErrorList` in the header, an empty Body.
    public static func ebXMLError(code: String, _ description: String) -> String {
        let markup: XMLMarkup = """
            <?xml version="1.0" encoding="UTF-8"?>
            <SOAP:Envelope xmlns:SOAP="\(SMSPNamespaces.soap)" xmlns:eb="\(SpineConstants.ebXML)">
            <SOAP:Header><eb:ErrorList SOAP:mustUnderstand="1" eb:highestSeverity="Error" eb:version="2.0">\
            <eb:Error eb:codeContext="urn:oasis:names:tc:ebxml-msg:service:errors" eb:errorCode="\(code)" eb:severity="Error">\
            <eb:Description xml:lang="en-GB">\(description)</eb:Description></eb:Error></eb:ErrorList></SOAP:Header>
            <SOAP:Body/>
            </SOAP:Envelope>
            """
        return markup.text
    }

    private static func reason(_ reason: SpineReason) -> XMLMarkup {
        let qualifier: XMLMarkup? = reason.qualifier.map { "<qualifier code=\"\($0)\"/>" }
        return """
            <reason typeCode="RSON"><justifyingDetectedIssueEvent classCode="ALRT" moodCode="EVN">\
            <code code="\(reason.code)" codeSystem="\(reason.codeSystem ?? "2.16.840.1.113883.2.1.3.2.4.17.42")" \
            displayName="\(reason.displayName ?? "")">\(qualifier)</code></justifyingDetectedIssueEvent></reason>
            """
    }

    private static func envelope(interaction: String, versionCode: String, to addressing: Addressing, at now: Date,
                                 acknowledgement: String?, controlAct: XMLMarkup, syncWrapper: Bool) -> String {
        let id = FreshUUID.string()
        let device = { (asid: String) -> XMLMarkup in
            "<device classCode=\"DEV\" determinerCode=\"INSTANCE\"><id root=\"\(SMSPConstants.asidRoot)\" extension=\"\(asid)\"/></device>"
        }
        let ack: XMLMarkup? = acknowledgement.map {
            "<acknowledgement typeCode=\"\($0)\"><messageRef><id root=\"\(addressing.queryHL7ID)\"/></messageRef></acknowledgement>"
        }
        let message: XMLMarkup = """
            <\(XMLMarkup(stringLiteral: interaction))>
            <id root="\(id)"/>
            <creationTime value="\(HL7Time.utcDigits(now))"/>
            <versionCode code="\(versionCode)"/>
            <interactionId root="\(SpineConstants.interactionIdRoot)" extension="\(interaction)"/>
            <processingCode code="P"/><processingModeCode code="T"/><acceptAckCode code="NE"/>
            \(ack)
            <communicationFunctionRcv typeCode="RCV">\(device(addressing.senderASID))</communicationFunctionRcv>
            <communicationFunctionSnd typeCode="SND">\(device(addressing.spineASID))</communicationFunctionSnd>
            <ControlActEvent classCode="CACT" moodCode="EVN">
            <author1 typeCode="AUT"><AgentSystemSDS classCode="AGNT"><agentSystemSDS classCode="DEV" determinerCode="INSTANCE">\
            <id root="\(SMSPConstants.asidRoot)" extension="\(addressing.spineASID)"/></agentSystemSDS></AgentSystemSDS></author1>
            \(controlAct)
            </ControlActEvent>
            </\(XMLMarkup(stringLiteral: interaction))>
            """
        let body: XMLMarkup = syncWrapper
            ? "<CP-ISNHSQueryResponse xmlns:npfitlc=\"\(SMSPNamespaces.npfitLocalisation)\">\(message)</CP-ISNHSQueryResponse>"
            : message
        let envelope: XMLMarkup = """
            <?xml version="1.0" encoding="UTF-8"?>
            <SOAP-ENV:Envelope xmlns:SOAP-ENV="\(SMSPNamespaces.soap)" xmlns:wsa="\(SpineConstants.addressing)" \
            xmlns="\(SMSPNamespaces.hl7)" xmlns:hl7="\(SMSPNamespaces.hl7)">
            <SOAP-ENV:Header>
            <wsa:MessageID>uuid:\(id)</wsa:MessageID>
            <wsa:Action>\(SpineConstants.service)/\(XMLMarkup(stringLiteral: interaction))</wsa:Action>
            <wsa:To/>
            <wsa:From><wsa:Address>https://cpisquery.national.ncrs.nhs.uk/syncservice</wsa:Address></wsa:From>
            <communicationFunctionRcv typeCode="RCV">\(device(addressing.senderASID))</communicationFunctionRcv>
            <communicationFunctionSnd typeCode="SND">\(device(addressing.spineASID))</communicationFunctionSnd>
            <wsa:RelatesTo>\(addressing.relatesTo)</wsa:RelatesTo>
            </SOAP-ENV:Header>
            <SOAP-ENV:Body>\(body)</SOAP-ENV:Body>
            </SOAP-ENV:Envelope>
            """
        return envelope.text
    }
}
