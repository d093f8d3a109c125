import Foundation

/// The kinds of plan CP-IS records.
public enum PlanType: String, Sendable, Hashable, Codable, CaseIterable {
    case childProtectionPlan = "child-protection-plan"
    case lookedAfterChild = "looked-after-child"
    case unbornChildProtectionPlan = "unborn-child-protection-plan"
}

/// A date without a time of day (birth dates), as "yyyy-MM-dd".
public struct CalendarDate: Sendable, Hashable, Codable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// Nil unless the day exists in the (proleptic Gregorian) month and year.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), (1...Self.length(ofMonth: month, in: year)).contains(day) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    public var description: String {
        DigitFields.string { $0.date(self, separator: "-") }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, let date = CalendarDate(year: parts[0], month: parts[1], day: parts[2]) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "'\(text)' is not a yyyy-MM-dd date"))
        }
        self = date
    }
}

/// Whom a plan is about.
public enum PlanSubject: Sendable, Hashable {
    /// A child, identified by its own NHS number.
    case child(nhsNumber: String?, name: PersonName?, birthDate: CalendarDate?)
    /// An unborn child, identified through the mother.
    case unbornChild(mother: Mother)

    public struct Mother: Sendable, Hashable {
        public var nhsNumber: String?
        public var name: PersonName?
        public var birthDate: CalendarDate?

        public init(nhsNumber: String?, name: PersonName?, birthDate: CalendarDate?) {
            self.nhsNumber = nhsNumber
            self.name = name
            self.birthDate = birthDate
        }
    }
}

extension PlanSubject {
    /// The NHS number that identifies the record: the child's own, or the mother's for an unborn
    /// child; only its digits, and nil where the record carries none.
    public var identifyingNHSNumber: String? {
        let number = switch self {
        case .child(let nhsNumber, _, _): nhsNumber
        case .unbornChild(let mother): mother.nhsNumber
        }
        return number.map(NHSNumber.digits(of:))
    }
}

extension Collection<ProtectionPlan> {
    /// Why these records are not all about `nhsNumber`, or nil when they are: the first record that
    /// names another NHS number, or (unless `allowingUnnumbered`) none at all, with only the last four
    /// digits of either shown. Every path to an answer asks this of what it is about to deliver.
    public func notAbout(_ nhsNumber: NHSNumber, allowingUnnumbered: Bool = false) -> String? {
        for (index, plan) in enumerated() {
            let digits = plan.subject.identifyingNHSNumber
            if digits == nhsNumber.digits || (digits == nil && allowingUnnumbered) { continue }
            let shown = digits.map(NHSNumber.masked(digits:)) ?? "no NHS number"
            return "record \(index + 1) is about \(shown), not \(nhsNumber)"
        }
        return nil
    }
}

/// The local authority responsible for a plan, and how to reach its social workers.
public struct LocalAuthority: Sendable, Hashable {
    public var odsCode: String
    public var name: String
    /// `telecom use="WP"`, without the "tel:" scheme.
    public var officeHoursPhone: String?
    /// `telecom use="EC"`: the emergency duty team, out of hours.
    public var emergencyDutyPhone: String?

    public init(odsCode: String, name: String, officeHoursPhone: String?, emergencyDutyPhone: String?) {
        self.odsCode = odsCode
        self.name = name
        self.officeHoursPhone = officeHoursPhone
        self.emergencyDutyPhone = emergencyDutyPhone
    }
}

/// One plan on record.
public struct ProtectionPlan: Sendable, Hashable {
    public var type: PlanType
    public var start: Date
    /// Nil while the plan is open-ended.
    public var end: Date?
    public var subject: PlanSubject
    public var localAuthority: LocalAuthority

    public init(type: PlanType, start: Date, end: Date?, subject: PlanSubject, localAuthority: LocalAuthority) {
        self.type = type
        self.start = start
        self.end = end
        self.subject = subject
        self.localAuthority = localAuthority
    }
}

/// A past query of this child's record from unscheduled care.
public struct AccessRecord: Sendable, Hashable {
    public enum Author: Sendable, Hashable {
        case user(name: PersonName?, jobRole: JobRole?, sdsUserId: String?)
        case system(asid: String?, nominatedPerson: PersonName?, jobRole: JobRole?)
    }

    public var accessedAt: Date
    public var organisation: Organisation?
    public var author: Author?

    public init(accessedAt: Date, organisation: Organisation?, author: Author?) {
        self.accessedAt = accessedAt
        self.organisation = organisation
        self.author = author
    }
}

/// What CP-IS (through the SMSP) answered to one query.
public struct CPISAnswer: Sendable, Hashable {
    public var responseCode: ResponseCode
    public var effectiveTime: Date?
    /// The answer's own message id.
    public var id: String?
    public var plans: [ProtectionPlan]
    public var accessHistory: [AccessRecord]
    /// The totals as sent; nil when the SMSP sent an empty element (error answers do).
    public var totalAccessRecords: Int?
    public var totalChildRecords: Int?

    public init(responseCode: ResponseCode, effectiveTime: Date? = nil, id: String? = nil,
                plans: [ProtectionPlan] = [], accessHistory: [AccessRecord] = [],
                totalAccessRecords: Int? = nil, totalChildRecords: Int? = nil) {
        self.responseCode = responseCode
        self.effectiveTime = effectiveTime
        self.id = id
        self.plans = plans
        self.accessHistory = accessHistory
        self.totalAccessRecords = totalAccessRecords
        self.totalChildRecords = totalChildRecords
    }

    public var disposition: Disposition { responseCode.disposition }

    /// The local authorities CP-IS notified of this access (each once, in the order of the plans).
    public var notifiedLocalAuthorities: [Organisation] {
        var seen = Set<String>()
        return plans.compactMap { plan in
            seen.insert(plan.localAuthority.odsCode).inserted
                ? Organisation(odsCode: plan.localAuthority.odsCode, name: plan.localAuthority.name) : nil
        }
    }
}
