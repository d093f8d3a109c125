import XMLSupport

/// The ITK Distribution Envelope around one payload, for requests and responses alike.
struct DistributionEnvelope {
    var service: String
    var trackingID: String
    /// `itk:auditIdentity/itk:id/@uri`, when the message carries one (requests do).
    var auditIdentity: String?
    var payloadID: String
    var profileID: String
    var senderODSCode: String
    var interaction: String
    var payload: XMLMarkup

    /// With `declaringNamespace`, the `itk` prefix is declared here (a bare envelope); otherwise the
    /// enclosing SOAP envelope declares it.
    func markup(declaringNamespace: Bool) -> XMLMarkup {
        let namespace: XMLMarkup = declaringNamespace ? " xmlns:itk=\"\(SMSPNamespaces.itk)\"" : ""
        let audit: XMLMarkup? = auditIdentity.map { "<itk:auditIdentity><itk:id uri=\"\($0)\"/></itk:auditIdentity>\n" }
        return """
            <itk:DistributionEnvelope\(namespace)>
            <itk:header service="\(service)" trackingid="\(trackingID)">
            \(audit)<itk:manifest count="1">
            <itk:manifestitem id="uuid_\(payloadID)" mimetype="text/xml" profileid="\(profileID)"/>
            </itk:manifest>
            <itk:senderAddress uri="urn:nhs-uk:addressing:ods:\(senderODSCode)"/>
            <itk:handlingSpecification>
            <itk:spec key="\(SMSPConstants.interactionKey)" value="\(interaction)"/>
            </itk:handlingSpecification>
            </itk:header>
            <itk:payloads count="1">
            <itk:payload id="uuid_\(payloadID)">
            \(payload)
            </itk:payload>
            </itk:payloads>
            </itk:DistributionEnvelope>
            """
    }
}
