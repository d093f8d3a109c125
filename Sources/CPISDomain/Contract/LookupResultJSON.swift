import Foundation

/// The wire shape of ``LookupResult``. Absent values are written as `null`, not left out, so that
/// integrators in any language see every field the contract names.
extension LookupResult {
    /// The JSON body, as published (compact); `pretty` for people (sorted keys, indented).
    public func json(pretty: Bool = false) -> [UInt8] {
        var writer = JSONWriter()
        writer.object { object in
            object.member("requestId", requestId)
            object.member("nhsNumber", nhsNumber)
            object.member("outcome", outcome.rawValue)
            object.member("responseCode") { value in
                guard let responseCode else { return value.null() }
                value.object { code in
                    code.member("code", responseCode.code)
                    code.member("displayName", responseCode.displayName)
                }
            }
            object.member("possiblyStale", possiblyStale)
            object.member("records") { $0.array(plans, Self.write) }
            object.member("accessHistory") { $0.array(accessHistory, Self.write) }
            object.member("attempts", attempts)
            object.member("completedAt", UTCTimestamp.string(completedAt))
            if let error {
                object.member("error") { value in
                    value.object { failure in
                        failure.member("kind", error.kind.rawValue)
                        failure.member("message", error.message)
                    }
                }
            }
        }
        guard pretty, let object = try? JSONSerialization.jsonObject(with: Data(writer.bytes)),
              let data = try? JSONSerialization.data(withJSONObject: object,
                                                     options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return writer.bytes }
        return Array(data)
    }

    private static func write(_ writer: inout JSONWriter, _ plan: ProtectionPlan) {
        writer.object { object in
            object.member("planType", plan.type.rawValue)
            object.member("startDate", UTCTimestamp.string(plan.start))
            object.member("endDate", plan.end.map(UTCTimestamp.string))
            object.member("subject") { value in
                value.object { subject in
                    switch plan.subject {
                    case .child(let nhsNumber, let name, let birthDate):
                        subject.member("kind", "child")
                        subject.member("nhsNumber", nhsNumber)
                        subject.member("name") { write(&$0, name) }
                        subject.member("birthDate", birthDate?.description)
                    case .unbornChild(let mother):
                        subject.member("kind", "unborn-child")
                        subject.member("nhsNumber", nil as String?)
                        subject.member("mother") { value in
                            value.object { person in
                                person.member("nhsNumber", mother.nhsNumber)
                                person.member("name") { write(&$0, mother.name) }
                                person.member("birthDate", mother.birthDate?.description)
                            }
                        }
                    }
                }
            }
            object.member("localAuthority") { value in
                value.object { authority in
                    authority.member("odsCode", plan.localAuthority.odsCode)
                    authority.member("name", plan.localAuthority.name)
                    authority.member("officeHoursPhone", plan.localAuthority.officeHoursPhone)
                    authority.member("emergencyDutyPhone", plan.localAuthority.emergencyDutyPhone)
                }
            }
        }
    }

    private static func write(_ writer: inout JSONWriter, _ name: PersonName?) {
        guard let name else { return writer.null() }
        writer.object { object in
            object.member("prefix", name.prefix?.trimmed)
            object.member("given", name.given?.trimmed)
            object.member("family", name.family?.trimmed)
        }
    }

    /// An access's author: the name and job role for people to read, and their parts and code as
    /// CP-IS gave them, so that the answer can be written again as CP-IS wrote it (the SMSP front door).
    private static func writePerson(_ object: inout JSONWriter, _ name: PersonName?, _ jobRole: JobRole?) {
        object.member("name", name?.displayName)
        object.member("jobRole", jobRole?.displayName)
        object.member("jobRoleCode", jobRole?.code)
        object.member("nameParts") { write(&$0, name) }
    }

    private static func write(_ writer: inout JSONWriter, _ access: AccessRecord) {
        writer.object { object in
            object.member("accessedAt", UTCTimestamp.string(access.accessedAt))
            object.member("organisation") { value in
                guard let organisation = access.organisation else { return value.null() }
                value.write(organisation)
            }
            object.member("author") { value in
                guard let author = access.author else { return value.null() }
                value.object { object in
                    switch author {
                    case .user(let name, let jobRole, let sdsUserId):
                        object.member("kind", "user")
                        writePerson(&object, name, jobRole)
                        object.member("sdsUserId", sdsUserId)
                    case .system(let asid, let nominatedPerson, let jobRole):
                        object.member("kind", "system")
                        writePerson(&object, nominatedPerson, jobRole)
                        object.member("asid", asid)
                    }
                }
            }
        }
    }
}

extension JSONWriter {
    mutating func write(_ organisation: Organisation) {
        object { object in
            object.member("odsCode", organisation.odsCode)
            object.member("name", organisation.name)
        }
    }
}
