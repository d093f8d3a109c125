/// The contract's `requester` object: an organisation and either a `user` or a `system`. Shared by
/// lookup requests and access notifications.
struct RequesterJSON: Codable {
    var organisation: Organisation
    var user: UserAuthor?
    var system: SystemAuthor?

    init(_ requester: Requester) {
        organisation = requester.organisation
        switch requester.author {
        case .user(let user): self.user = user
        case .system(let system): self.system = system
        }
    }

    func requester() throws(LookupRequestError) -> Requester {
        switch (user, system) {
        case (let user?, nil): return Requester(organisation: organisation, author: .user(user))
        case (nil, let system?): return Requester(organisation: organisation, author: .system(system))
        case (nil, nil):
            throw LookupRequestError("requester needs either \"user\" (a person) or \"system\" (an unattended system)")
        case (.some, .some):
            throw LookupRequestError("requester has both \"user\" and \"system\": send exactly one")
        }
    }
}
