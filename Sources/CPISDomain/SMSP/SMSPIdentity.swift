import Foundation

/// Who this deployment is to the SMSP: the identities an operator configures, never a request.
public struct SMSPIdentity: Sendable, Hashable {
    /// The SMSP endpoint URL (also sent as `wsa:To`).
    public var endpoint: String
    /// Our own address (`wsa:From`), optional.
    public var fromAddress: String?
    /// The WS-Security username the SMSP provider issued to this deployment.
    public var username: String
    /// ODS code of the organisation that runs this deployment (`itk:senderAddress`); when nil, the
    /// requesting organisation's.
    public var senderODSCode: String?
    /// Our ASID: used as the system author of unattended queries that name none.
    public var asid: String?
    /// The manifest item's `profileid` (unconfirmed in public sources, hence a setting).
    public var profileId: String
    /// How long a request stays valid (`wsu:Expires` − `wsu:Created`).
    public var timestampLifetime: Duration

    public init(endpoint: String, fromAddress: String? = nil, username: String, senderODSCode: String? = nil,
                asid: String? = nil, profileId: String = "urn:nhs-en:profile:CP-ISNHSQuery-v2-0",
                timestampLifetime: Duration = .seconds(300)) {
        self.endpoint = endpoint
        self.fromAddress = fromAddress
        self.username = username
        self.senderODSCode = senderODSCode
        self.asid = asid
        self.profileId = profileId
        self.timestampLifetime = timestampLifetime
    }
}
