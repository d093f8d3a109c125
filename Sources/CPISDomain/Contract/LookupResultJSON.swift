import Foundation

/// The wire shape of ``LookupResult``. Absent values are written as `null`, not left out, so that
/// integrators in any language see every field the contract names.
struct LookupResultJSON: Encodable {
    let result: LookupResult

    init(_ result: LookupResult) { self.result = result }

    private enum Keys: String, CodingKey {
        case requestId, nhsNumber, outcome, responseCode, possiblyStale, records, accessHistory, attempts
        case completedAt, error
        case code, displayName
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(result.requestId, forKey: .requestId)
        try container.encode(result.nhsNumber, forKey: .nhsNumber)
        try container.encode(result.outcome, forKey: .outcome)
        if let code = result.responseCode {
            var nested = container.nestedContainer(keyedBy: Keys.self, forKey: .responseCode)
            try nested.encode(code.code, forKey: .code)
            try nested.encode(code.displayName, forKey: .displayName)
        } else {
            try container.encodeNil(forKey: .responseCode)
        }
        try container.encode(result.possiblyStale, forKey: .possiblyStale)
        try container.encode(result.plans.map(PlanJSON.init), forKey: .records)
        try container.encode(result.accessHistory.map(AccessJSON.init), forKey: .accessHistory)
        try container.encode(result.attempts, forKey: .attempts)
        try container.encode(UTCTimestamp.string(result.completedAt), forKey: .completedAt)
        try container.encodeIfPresent(result.error, forKey: .error)
    }
}

private struct NameJSON: Encodable {
    let name: PersonName
    private enum Keys: String, CodingKey { case prefix, given, family }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(name.prefix?.trimmingCharacters(in: .whitespaces), forKey: .prefix)
        try container.encode(name.given?.trimmingCharacters(in: .whitespaces), forKey: .given)
        try container.encode(name.family?.trimmingCharacters(in: .whitespaces), forKey: .family)
    }
}

private struct PlanJSON: Encodable {
    let plan: ProtectionPlan
    init(_ plan: ProtectionPlan) { self.plan = plan }

    private enum Keys: String, CodingKey {
        case planType, startDate, endDate, subject, localAuthority
        case kind, nhsNumber, name, birthDate, mother
        case odsCode, officeHoursPhone, emergencyDutyPhone
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(plan.type, forKey: .planType)
        try container.encode(UTCTimestamp.string(plan.start), forKey: .startDate)
        try container.encode(plan.end.map(UTCTimestamp.string), forKey: .endDate)

        var subject = container.nestedContainer(keyedBy: Keys.self, forKey: .subject)
        switch plan.subject {
        case .child(let nhsNumber, let name, let birthDate):
            try subject.encode("child", forKey: .kind)
            try subject.encode(nhsNumber, forKey: .nhsNumber)
            try subject.encode(name.map(NameJSON.init), forKey: .name)
            try subject.encode(birthDate, forKey: .birthDate)
        case .unbornChild(let mother):
            try subject.encode("unborn-child", forKey: .kind)
            try subject.encodeNil(forKey: .nhsNumber)
            var motherContainer = subject.nestedContainer(keyedBy: Keys.self, forKey: .mother)
            try motherContainer.encode(mother.nhsNumber, forKey: .nhsNumber)
            try motherContainer.encode(mother.name.map(NameJSON.init), forKey: .name)
            try motherContainer.encode(mother.birthDate, forKey: .birthDate)
        }

        var authority = container.nestedContainer(keyedBy: Keys.self, forKey: .localAuthority)
        try authority.encode(plan.localAuthority.odsCode, forKey: .odsCode)
        try authority.encode(plan.localAuthority.name, forKey: .name)
        try authority.encode(plan.localAuthority.officeHoursPhone, forKey: .officeHoursPhone)
        try authority.encode(plan.localAuthority.emergencyDutyPhone, forKey: .emergencyDutyPhone)
    }
}

private struct AccessJSON: Encodable {
    let access: AccessRecord
    init(_ access: AccessRecord) { self.access = access }

    private enum Keys: String, CodingKey {
        case accessedAt, organisation, author
        case kind, name, jobRole, sdsUserId, asid
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(UTCTimestamp.string(access.accessedAt), forKey: .accessedAt)
        try container.encode(access.organisation, forKey: .organisation)
        guard let author = access.author else {
            try container.encodeNil(forKey: .author)
            return
        }
        var nested = container.nestedContainer(keyedBy: Keys.self, forKey: .author)
        switch author {
        case .user(let name, let jobRole, let sdsUserId):
            try nested.encode("user", forKey: .kind)
            try nested.encode(name?.displayName, forKey: .name)
            try nested.encode(jobRole?.displayName, forKey: .jobRole)
            try nested.encode(sdsUserId, forKey: .sdsUserId)
        case .system(let asid, let nominatedPerson, let jobRole):
            try nested.encode("system", forKey: .kind)
            try nested.encode(nominatedPerson?.displayName, forKey: .name)
            try nested.encode(jobRole?.displayName, forKey: .jobRole)
            try nested.encode(asid, forKey: .asid)
        }
    }
}
