/// The contract's `requester` object: an organisation and either a `user` or a `system`. Shared by
/// lookup requests and access notifications.
extension Requester {
    /// Reads it from a request body's `requester` member.
    init(json fields: JSONFields) throws(ContractError) {
        func jobRole(_ fields: JSONFields) throws(ContractError) -> JobRole {
            JobRole(code: try fields.string("code"), displayName: try fields.string("displayName"))
        }
        let organisationFields = try fields.object("organisation")
        let organisation = Organisation(odsCode: try organisationFields.string("odsCode"),
                                        name: try organisationFields.string("name"))
        switch (try fields.optionalObject("user"), try fields.optionalObject("system")) {
        case (let user?, nil):
            self.init(organisation: organisation, author: .user(UserAuthor(
                sdsUserId: try user.string("sdsUserId"), sdsRoleProfileId: try user.optionalString("sdsRoleProfileId"),
                jobRole: try jobRole(try user.object("jobRole")), name: try PersonName(json: try user.object("name")))))
        case (nil, let system?):
            let person = try system.object("nominatedPerson")
            self.init(organisation: organisation, author: .system(SystemAuthor(
                asid: try system.string("asid"),
                nominatedPerson: NominatedPerson(jobRole: try jobRole(try person.object("jobRole")),
                                                 name: try PersonName(json: try person.object("name"))))))
        case (nil, nil):
            throw ContractError("requester needs either \"user\" (a person) or \"system\" (an unattended system)")
        case (.some, .some):
            throw ContractError("requester has both \"user\" and \"system\": send exactly one")
        }
    }
}

extension JSONWriter {
    /// The contract's `requester` object (absent optional fields left out).
    mutating func write(_ requester: Requester) {
        func write(_ writer: inout JSONWriter, _ name: PersonName) {
            writer.object { object in
                if let prefix = name.prefix { object.member("prefix", prefix) }
                if let given = name.given { object.member("given", given) }
                if let family = name.family { object.member("family", family) }
            }
        }
        func write(_ writer: inout JSONWriter, _ role: JobRole) {
            writer.object { object in
                object.member("code", role.code)
                object.member("displayName", role.displayName)
            }
        }
        object { object in
            object.member("organisation") { $0.write(requester.organisation) }
            switch requester.author {
            case .user(let user):
                object.member("user") { value in
                    value.object { person in
                        person.member("sdsUserId", user.sdsUserId)
                        if let profile = user.sdsRoleProfileId { person.member("sdsRoleProfileId", profile) }
                        person.member("jobRole") { write(&$0, user.jobRole) }
                        person.member("name") { write(&$0, user.name) }
                    }
                }
            case .system(let system):
                object.member("system") { value in
                    value.object { author in
                        author.member("asid", system.asid)
                        author.member("nominatedPerson") { value in
                            value.object { person in
                                person.member("jobRole") { write(&$0, system.nominatedPerson.jobRole) }
                                person.member("name") { write(&$0, system.nominatedPerson.name) }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension PersonName {
    /// Reads the contract's `name` object (prefix, given and family, each optional).
    init(json fields: JSONFields) throws(ContractError) {
        self.init(prefix: try fields.optionalString("prefix"), given: try fields.optionalString("given"),
                  family: try fields.optionalString("family"))
    }
}
