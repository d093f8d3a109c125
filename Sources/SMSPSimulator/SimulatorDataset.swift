import CPISDomain
import Foundation
import Yams

/// The simulator's test patients (`Config/simulator-dataset.yaml`), by NHS number.
///
/// Only never-issued 999-range NHS numbers are accepted, so that no real patient's number can end
/// up in a test rig.
public struct SimulatorDataset: Sendable {
    public let plansByNHSNumber: [String: [ProtectionPlan]]

    public init(plansByNHSNumber: [String: [ProtectionPlan]]) {
        self.plansByNHSNumber = plansByNHSNumber
    }

    public init(contentsOf url: URL) throws(SimulatorConfigurationError) {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw SimulatorConfigurationError("cannot read the dataset \(url.path): \(error.localizedDescription)")
        }
        try self.init(yaml: text, source: url.path)
    }

    public init(yaml: String, source: String = "dataset") throws(SimulatorConfigurationError) {
        let file: DatasetFile
        do {
            file = try YAMLDecoder().decode(DatasetFile.self, from: yaml)
        } catch {
            throw SimulatorConfigurationError("\(source) is not a valid dataset: \(error)")
        }
        var plans: [String: [ProtectionPlan]] = [:]
        for patient in file.patients {
            let number: NHSNumber
            do {
                number = try NHSNumber(patient.nhsNumber)
            } catch {
                throw SimulatorConfigurationError("\(source): patient \(patient.nhsNumber): \(error)")
            }
            guard number.isTestNumber else {
                throw SimulatorConfigurationError(
                    "\(source): patient \(number.masked) is not in the never-issued 999 range: use test numbers only")
            }
            let subject: PlanSubject
            switch (patient.child, patient.unbornChild) {
            case (let child?, nil):
                subject = .child(nhsNumber: number.digits, name: child.name,
                                 birthDate: try Self.birthDate(child.birthDate, source: source))
            case (nil, let unborn?):
                subject = .unbornChild(mother: .init(nhsNumber: unborn.mother.nhsNumber, name: unborn.mother.name,
                                                     birthDate: try Self.birthDate(unborn.mother.birthDate, source: source)))
            default:
                throw SimulatorConfigurationError("\(source): patient \(number.masked) needs exactly one of child, unbornChild")
            }
            plans[number.digits] = try patient.plans.map { plan throws(SimulatorConfigurationError) in
                guard let authority = file.localAuthorities[plan.localAuthority] else {
                    throw SimulatorConfigurationError("\(source): unknown local authority \(plan.localAuthority)")
                }
                return ProtectionPlan(
                    type: plan.type, start: try Self.localTime(plan.start, source: source),
                    end: try plan.end.map { text throws(SimulatorConfigurationError) in try Self.localTime(text, source: source) },
                    subject: subject,
                    localAuthority: LocalAuthority(odsCode: plan.localAuthority, name: authority.name,
                                                   officeHoursPhone: authority.officeHoursPhone,
                                                   emergencyDutyPhone: authority.emergencyDutyPhone))
            }
        }
        plansByNHSNumber = plans
    }

    /// "yyyy-MM-dd HH:mm" in English local time.
    private static func localTime(_ text: String, source: String) throws(SimulatorConfigurationError) -> Date {
        guard let date = HL7Time.englishLocalTime(text) else {
            throw SimulatorConfigurationError("\(source): '\(text)' is not a \"yyyy-MM-dd HH:mm\" date-time")
        }
        return date
    }

    private static func birthDate(_ text: String?, source: String) throws(SimulatorConfigurationError) -> CalendarDate? {
        guard let text else { return nil }
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, let date = CalendarDate(year: parts[0], month: parts[1], day: parts[2]) else {
            throw SimulatorConfigurationError("\(source): '\(text)' is not a \"yyyy-MM-dd\" date")
        }
        return date
    }

    private struct DatasetFile: Decodable {
        struct Authority: Decodable {
            var name: String
            var officeHoursPhone: String?
            var emergencyDutyPhone: String?
        }
        struct Person: Decodable {
            var nhsNumber: String?
            var prefix: String?
            var given: String?
            var family: String?
            var birthDate: String?
            var name: PersonName { PersonName(prefix: prefix, given: given, family: family) }
        }
        struct Unborn: Decodable { var mother: Person }
        struct Plan: Decodable {
            var type: PlanType
            var localAuthority: String
            var start: String
            var end: String?
        }
        struct Patient: Decodable {
            var nhsNumber: String
            var child: Person?
            var unbornChild: Unborn?
            var plans: [Plan]
        }
        var localAuthorities: [String: Authority]
        var patients: [Patient]
    }
}

/// A setting the simulator cannot use, and why.
public struct SimulatorConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
