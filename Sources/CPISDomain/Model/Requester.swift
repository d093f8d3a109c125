import Foundation

/// A coded job role (SDS job role code, e.g. R0260 "General Medical Practitioner").
public struct JobRole: Sendable, Hashable, Codable {
    public var code: String
    public var displayName: String

    public init(code: String, displayName: String) {
        self.code = code
        self.displayName = displayName
    }
}

/// A person's name as HL7 carries it.
public struct PersonName: Sendable, Hashable, Codable {
    public var prefix: String?
    public var given: String?
    public var family: String?

    public init(prefix: String? = nil, given: String? = nil, family: String? = nil) {
        self.prefix = prefix
        self.given = given
        self.family = family
    }

    /// "Dr Paula Palmer".
    public var displayName: String {
        [prefix, given, family].compactMap { $0?.trimmed }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }
}

/// An organisation identified by its ODS code.
public struct Organisation: Sendable, Hashable, Codable {
    public var odsCode: String
    public var name: String

    public init(odsCode: String, name: String) {
        self.odsCode = odsCode
        self.name = name
    }
}

/// A clinician making the query (attended use): Spine's `COCT_TP145102GB01#AssignedAuthor`.
public struct UserAuthor: Sendable, Hashable, Codable {
    public var sdsUserId: String
    public var sdsRoleProfileId: String?
    public var jobRole: JobRole
    public var name: PersonName

    public init(sdsUserId: String, sdsRoleProfileId: String? = nil, jobRole: JobRole, name: PersonName) {
        self.sdsUserId = sdsUserId
        self.sdsRoleProfileId = sdsRoleProfileId
        self.jobRole = jobRole
        self.name = name
    }
}

/// The person answerable for an unattended system's queries.
public struct NominatedPerson: Sendable, Hashable, Codable {
    public var jobRole: JobRole
    public var name: PersonName

    public init(jobRole: JobRole, name: PersonName) {
        self.jobRole = jobRole
        self.name = name
    }
}

/// A system making the query (unattended use, e.g. a batch): Spine's `COCT_TP145104GB01#System`.
public struct SystemAuthor: Sendable, Hashable, Codable {
    /// The system's Accredited System ID.
    public var asid: String
    public var nominatedPerson: NominatedPerson

    public init(asid: String, nominatedPerson: NominatedPerson) {
        self.asid = asid
        self.nominatedPerson = nominatedPerson
    }
}

/// Who asks: an organisation, and either a person or a system acting for it.
public struct Requester: Sendable, Hashable {
    public enum Author: Sendable, Hashable {
        case user(UserAuthor)
        case system(SystemAuthor)
    }

    public var organisation: Organisation
    public var author: Author

    public init(organisation: Organisation, author: Author) {
        self.organisation = organisation
        self.author = author
    }

    /// The fields Spine requires, checked before anything is sent: a request missing one is refused
    /// by Spine anyway, and would still notify nobody useful.
    public func missingMandatoryFields() -> [String] {
        var missing: [String] = []
        func require(_ value: String?, _ name: String) {
            if value?.trimmed.isEmpty ?? true { missing.append(name) }
        }
        require(organisation.odsCode, "requester.organisation.odsCode")
        require(organisation.name, "requester.organisation.name")
        switch author {
        case .user(let user):
            require(user.sdsUserId, "requester.user.sdsUserId")
            require(user.jobRole.code, "requester.user.jobRole.code")
            require(user.jobRole.displayName, "requester.user.jobRole.displayName")
        case .system(let system):
            require(system.asid, "requester.system.asid")
            require(system.nominatedPerson.jobRole.code, "requester.system.nominatedPerson.jobRole.code")
            require(system.nominatedPerson.jobRole.displayName,
                    "requester.system.nominatedPerson.jobRole.displayName")
            require(system.nominatedPerson.name.displayName, "requester.system.nominatedPerson.name")
        }
        return missing
    }
}

extension Requester {
    /// This requester, its system author given `asid` if it has none (a system asks as the
    /// deployment sending its query): as the SMSP and the Spine request builders both do.
    func withSystemASID(ifMissing asid: String) -> Requester {
        guard case .system(var system) = author, system.asid.isEmpty else { return self }
        system.asid = asid
        return Requester(organisation: organisation, author: .system(system))
    }
}
