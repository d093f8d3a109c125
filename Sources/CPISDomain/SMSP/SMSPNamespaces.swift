/// The XML namespaces and fixed values of the SMSP CP-IS exchange (wire format, sections 3 and 4).
public enum SMSPNamespaces {
    public static let soap = "http://schemas.xmlsoap.org/soap/envelope/"
    public static let addressing = "http://www.w3.org/2005/08/addressing"
    public static let security = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    public static let securityUtility =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    public static let itk = "urn:nhs-itk:ns:201005"
    public static let hl7 = "urn:hl7-org:v3"
    public static let npfitLocalisation = "NPFIT:HL7:Localisation"

    /// Prefixes for XPath over SMSP messages.
    public static let prefixes: [String: String] = [
        "soap": soap, "wsa": addressing, "wsse": security, "wsu": securityUtility, "itk": itk, "hl7": hl7,
        "npfitlc": npfitLocalisation,
    ]
}

/// Fixed identifiers of the exchange.
public enum SMSPConstants {
    public static let requestService = "urn:nhs-itk:services:201005:sendRecvDistEnvelope"
    public static let responseService = "urn:nhs-itk:services:201005:sendRecvDistEnvelopeResponse"
    public static let queryInteraction = "urn:nhs-itk:interaction:CP-ISNHSQuery-v1-0"
    public static let responseInteraction = "urn:nhs-itk:interaction:SMSP-CP-ISNHSQueryResponse-v1-0"
    public static let responseProfile = "urn:nhs-en:profile:SMSP-CP-ISNHSQueryResponse-v1-0"
    public static let interactionKey = "urn:nhs-itk:ns:201005:interaction"
    public static let anonymousAddress = "http://www.w3.org/2005/08/addressing/anonymous"
    public static let responseCodeSystem = "2.16.840.1.113883.2.1.3.2.4.17.499"

    static let templateIdRoot = "2.16.840.1.113883.2.1.3.2.4.18.16"
    static let jobRoleCodeSystem = "2.16.840.1.113883.2.1.3.2.4.17.196"
    static let sdsUserIdRoot = "1.2.826.0.1285.0.2.0.65"
    static let sdsRoleProfileIdRoot = "1.2.826.0.1285.0.2.0.67"
    static let asidRoot = "1.2.826.0.1285.0.2.0.107"
    static let odsRoot = "2.16.840.1.113883.2.1.3.2.4.19.1"
    static let nhsNumberRoot = "2.16.840.1.113883.2.1.4.1"
    static let auditIdentityType = "2.16.840.1.113883.2.1.3.2.4.18.27"
}
