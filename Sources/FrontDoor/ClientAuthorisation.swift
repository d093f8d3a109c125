import CPISDomain

/// Which organisations each client system may ask for, by the identity of its TLS client
/// certificate: SMSP CP-IS access is for unscheduled care settings only, so every client and every
/// organisation it acts for is listed (`authorisation.clients`). Mirrors the worker's
/// `authorisation.users`, which says the same of broker users.
public struct ClientAuthorisation: Sendable, Hashable {
    /// Client identity → ODS codes. An identity is the certificate's subject in RFC 2253 form
    /// ("CN=ed-epr.example.nhs.uk,O=Example Trust,C=GB") or its common name alone. Nil: any client
    /// may act for any organisation, which the front door allows on a loopback address only.
    public var odsCodesByClient: [String: Set<String>]?

    public init(odsCodesByClient: [String: Set<String>]?) {
        self.odsCodesByClient = odsCodesByClient
    }

    /// Why the client may not make this request, or nil when it may. Every organisation the request
    /// names must be the client's: the author's organisation, and the ODS codes in the audit
    /// identity and the sender address where the request carries them.
    func problem(clientSubject: String?, request: SMSPIncomingRequest) -> String? {
        guard let odsCodesByClient else { return nil }
        guard let clientSubject else { return "the client presented no certificate" }
        let commonName = Self.commonName(of: clientSubject)
        guard let allowed = odsCodesByClient[clientSubject] ?? commonName.flatMap({ odsCodesByClient[$0] }) else {
            return "the client \(commonName ?? clientSubject) is not authorised to make CP-IS queries"
        }
        let named: [(what: String, code: String?)] = [
            ("the author's organisation", request.query?.organisation?.odsCode),
            ("the audit identity", request.auditIdentity.flatMap { Self.odsCode(in: $0, after: "urn:nhs-uk:identity:ods:") }),
            ("the sender address", request.senderAddress.flatMap { Self.odsCode(in: $0, after: "urn:nhs-uk:addressing:ods:") }),
        ]
        for (what, code) in named {
            guard let code else { continue }
            if !allowed.contains(code) {
                return "the client \(commonName ?? clientSubject) may not act for organisation \(code) (\(what))"
            }
        }
        if request.auditIdentity != nil, named[1].code == nil {
            return "the audit identity is not urn:nhs-uk:identity:ods:<ODS code>:<user>"
        }
        if request.senderAddress != nil, named[2].code == nil {
            return "the sender address is not urn:nhs-uk:addressing:ods:<ODS code>"
        }
        return nil
    }

    /// The ODS code after `prefix`, up to the next colon.
    static func odsCode(in uri: String, after prefix: String) -> String? {
        guard uri.hasPrefix(prefix) else { return nil }
        let code = uri.dropFirst(prefix.count).prefix { $0 != ":" }
        return code.isEmpty ? nil : String(code)
    }

    /// The CN of an RFC 2253 subject (its first CN), unescaped.
    static func commonName(of subject: String) -> String? {
        var component = ""
        var escaped = false
        var components: [String] = []
        for character in subject {
            if escaped {
                component.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "," || character == "+" {
                components.append(component)
                component = ""
            } else {
                component.append(character)
            }
        }
        components.append(component)
        return components.first { $0.hasPrefix("CN=") }.map { String($0.dropFirst(3)) }
    }
}
