import Foundation

/// Reading a result back from the contract's JSON, as the worker publishes it: what the SMSP front
/// door answers its callers from. Fields added to the contract later are read when present.
extension LookupResult {
    public init(json: some Collection<UInt8>) throws(ContractError) {
        guard case .object(let members)? = try? JSONReader.read(json) else {
            throw ContractError("the result is not a JSON object")
        }
        let body = JSONFields(path: "", members: members)
        let outcomeText = try body.string("outcome")
        guard let outcome = Outcome(rawValue: outcomeText) else { throw ContractError("outcome '\(outcomeText)' is not one of the contract's") }
        let responseCode = try body.optionalObject("responseCode").map { code throws(ContractError) in
            ResponseCode(code: try code.string("code"), displayName: try code.string("displayName"))
        }
        let error = try body.optionalObject("error").map { error throws(ContractError) in
            let kindText = try error.string("kind")
            guard let kind = Failure.Kind(rawValue: kindText) else { throw ContractError("error.kind '\(kindText)' is not one of the contract's") }
            return Failure(kind: kind, message: try error.string("message"))
        }
        var plans: [ProtectionPlan] = []
        for record in try body.objects("records") { plans.append(try Self.plan(record)) }
        var history: [AccessRecord] = []
        for access in try body.objects("accessHistory") { history.append(try Self.access(access)) }
        self.init(requestId: try body.string("requestId"), nhsNumber: try body.optionalString("nhsNumber"),
                  outcome: outcome, responseCode: responseCode, possiblyStale: try body.bool("possiblyStale"),
                  plans: plans, accessHistory: history, attempts: try body.int("attempts"),
                  completedAt: try Self.timestamp(body, "completedAt"), error: error)
    }

    private static func plan(_ record: JSONFields) throws(ContractError) -> ProtectionPlan {
        let typeText = try record.string("planType")
        guard let type = PlanType(rawValue: typeText) else { throw ContractError("planType '\(typeText)' is not one of the contract's") }
        let subjectFields = try record.object("subject")
        let subject: PlanSubject
        switch try subjectFields.string("kind") {
        case "child":
            subject = .child(nhsNumber: try subjectFields.optionalString("nhsNumber"),
                             name: try subjectFields.optionalObject("name").map(PersonName.init(json:)),
                             birthDate: try date(subjectFields, "birthDate"))
        case "unborn-child":
            let mother = try subjectFields.object("mother")
            subject = .unbornChild(mother: PlanSubject.Mother(
                nhsNumber: try mother.optionalString("nhsNumber"), name: try mother.optionalObject("name").map(PersonName.init(json:)),
                birthDate: try date(mother, "birthDate")))
        case let other:
            throw ContractError("subject.kind '\(other)' is not child or unborn-child")
        }
        let authority = try record.object("localAuthority")
        return ProtectionPlan(
            type: type, start: try timestamp(record, "startDate"),
            end: try record.optionalString("endDate") == nil ? nil : try timestamp(record, "endDate"),
            subject: subject,
            localAuthority: LocalAuthority(odsCode: try authority.string("odsCode"), name: try authority.string("name"),
                                           officeHoursPhone: try authority.optionalString("officeHoursPhone"),
                                           emergencyDutyPhone: try authority.optionalString("emergencyDutyPhone")))
    }

    private static func access(_ access: JSONFields) throws(ContractError) -> AccessRecord {
        let organisation = try access.optionalObject("organisation").map { fields throws(ContractError) in
            Organisation(odsCode: try fields.string("odsCode"), name: try fields.string("name"))
        }
        let author = try access.optionalObject("author").map { fields throws(ContractError) -> AccessRecord.Author in
            // The name's parts where the result has them, else its display form as a whole.
            var name = try fields.optionalObject("nameParts").map(PersonName.init(json:))
            if name == nil, let text = try fields.optionalString("name") { name = PersonName(family: text) }
            let jobRole = try fields.optionalString("jobRole").map { displayName throws(ContractError) in
                JobRole(code: try fields.optionalString("jobRoleCode") ?? "", displayName: displayName)
            }
            switch try fields.string("kind") {
            case "user": return .user(name: name, jobRole: jobRole, sdsUserId: try fields.optionalString("sdsUserId"))
            case "system": return .system(asid: try fields.optionalString("asid"), nominatedPerson: name, jobRole: jobRole)
            case let other: throw ContractError("author.kind '\(other)' is not user or system")
            }
        }
        return AccessRecord(accessedAt: try timestamp(access, "accessedAt"), organisation: organisation, author: author)
    }

    private static func timestamp(_ fields: JSONFields, _ key: String) throws(ContractError) -> Date {
        let text = try fields.string(key)
        guard let date = UTCTimestamp.date(text) else { throw ContractError("\(key) '\(text)' is not a UTC timestamp") }
        return date
    }

    private static func date(_ fields: JSONFields, _ key: String) throws(ContractError) -> CalendarDate? {
        guard let text = try fields.optionalString(key) else { return nil }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              let date = CalendarDate(year: year, month: month, day: day) else {
            throw ContractError("\(key) '\(text)' is not a date (yyyy-MM-dd)")
        }
        return date
    }
}
