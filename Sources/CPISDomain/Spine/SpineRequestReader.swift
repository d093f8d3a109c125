import Foundation
import XMLSupport

/// A CP-IS query as Spine receives it, and what Spine's own checks find wrong with it.
public struct SpineIncomingRequest: Sendable {
    public var messageID: String?
    /// The transmission wrapper's id, which a QUQI or MCCI answer acknowledges.
    public var hl7ID: String?
    /// The sender's ASID (`communicationFunctionSnd`).
    public var senderASID: String?
    public var query: CPISQuery?
    /// Spine's header rules that the request breaks, as Spine names them (`SOAP_MESSAGE_ID_ERROR`, ...).
    public var headerProblems: [String]
}

/// Reads a QUPC_IN000006GB01 request as Spine's validation does (wire format §3 and §4): the header
/// rules of `Clinicals_Stage_1_syncAsync.xsl` and the query's mandatory items of `CPIS_Query.xsl`.
/// For the Spine simulator.
public enum SpineRequestReader {
    public static func read(_ body: some Collection<UInt8>) throws(SMSPResponseError) -> SpineIncomingRequest {
        let document: XMLDocument
        do {
            document = try XMLDocument(parsing: body)
        } catch {
            throw SMSPResponseReader.unreadable(error, body: body)
        }
        let root = document.rootElement
        guard root.is("Envelope", SMSPNamespaces.soap), let soapBody = root.child("Body", SMSPNamespaces.soap) else {
            throw SMSPResponseError(.notSOAP, "expected a SOAP 1.1 envelope with a Body")
        }
        let header = root.child("Header", SMSPNamespaces.soap)
        var problems: [String] = []
        let messageIDs = header?.children("MessageID", SpineConstants.addressing).map(\.trimmedText) ?? []
        if messageIDs.count != 1 || messageIDs.first?.count != 41 {
            problems.append("SOAP_MESSAGE_ID_ERROR: wsa:MessageID must be one 'uuid:' + UUID, 41 characters")
        }
        if header?.children("Action", SpineConstants.addressing).count != 1 {
            problems.append("SOAP_ACTION_ERROR: exactly one wsa:Action")
        }
        let to = header?.children("To", SpineConstants.addressing) ?? []
        if to.count != 1 || to.first?.trimmedText.isEmpty != false {
            problems.append("SOAP_TO_ERROR: exactly one non-empty wsa:To")
        }
        func asid(_ function: String) -> String? {
            header?.child(function)?.child("device")?.child("id")?.attribute("extension").flatMap { $0.isEmpty ? nil : $0 }
        }
        if asid("communicationFunctionRcv") == nil {
            problems.append("SOAP_COMM_FUNC_RCV_ERROR: communicationFunctionRcv/device/id needs an extension (Spine's ASID)")
        }
        let senderASID = asid("communicationFunctionSnd")
        if senderASID == nil {
            problems.append("SOAP_COMM_FUNC_SND_ERROR: communicationFunctionSnd/device/id needs an extension (the sender's ASID)")
        }
        let interaction = soapBody.child(SpineConstants.queryInteraction)
        let query = interaction?.child("ControlActEvent")?.child("subject")?.child("CP-ISQueryStub")?.child("cP-ISNHSQuery")
        return SpineIncomingRequest(messageID: messageIDs.first, hl7ID: interaction?.child("id")?.attribute("root"),
                                    senderASID: senderASID, query: query.map(SMSPRequestReader.readQuery),
                                    headerProblems: problems)
    }
}
