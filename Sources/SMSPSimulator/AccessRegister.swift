import CPISDomain
import Foundation
import Synchronization

/// A notification CP-IS would send a local authority: a child on its plan was looked up.
public struct LocalAuthorityNotification: Sendable, Hashable, Codable {
    public var localAuthority: Organisation
    public var nhsNumber: String
    /// The request's `wsa:MessageID`: lets a test tie a notification to one lookup.
    public var messageID: String
    public var accessedAt: Date
    public var requestingOrganisation: Organisation?
}

/// What CP-IS remembers of accesses: each record's access history and the notifications sent.
///
/// History rules from the CP-IS message specification: the current query is listed; the same author
/// is listed once per 24 hours (the first view stands); only the 25 most recent accesses are kept.
final class AccessRegister: Sendable {
    static let historyLimit = 25
    static let sameAuthorWindow: TimeInterval = 24 * 3600

    private struct Entry {
        let access: AccessRecord
        let authorKey: String
    }
    private struct State {
        var history: [String: [Entry]] = [:]  // most recent first
        var notifications: [LocalAuthorityNotification] = []
    }
    private let state = Mutex(State())

    /// Records an answered query of a record on CP-IS, notifies its local authorities, and returns the
    /// history to send back (most recent first).
    func record(nhsNumber: String, access: AccessRecord, messageID: String, plans: [ProtectionPlan]) -> [AccessRecord] {
        let key = Self.authorKey(access)
        let notified = CPISAnswer(responseCode: ResponseCode.success, plans: plans).notifiedLocalAuthorities
        return state.withLock { state in
            var entries = state.history[nhsNumber, default: []]
            let seenRecently = entries.contains {
                $0.authorKey == key && access.accessedAt.timeIntervalSince($0.access.accessedAt) < Self.sameAuthorWindow
            }
            if !seenRecently {
                entries.insert(Entry(access: access, authorKey: key), at: 0)
                entries = Array(entries.prefix(Self.historyLimit))
            }
            state.history[nhsNumber] = entries
            state.notifications += notified.map {
                LocalAuthorityNotification(localAuthority: $0, nhsNumber: nhsNumber, messageID: messageID,
                                           accessedAt: access.accessedAt, requestingOrganisation: access.organisation)
            }
            return entries.map(\.access)
        }
    }

    func notifications(localAuthority: String? = nil, nhsNumber: String? = nil) -> [LocalAuthorityNotification] {
        state.withLock { state in
            state.notifications.filter {
                (localAuthority == nil || $0.localAuthority.odsCode == localAuthority)
                    && (nhsNumber == nil || $0.nhsNumber == nhsNumber)
            }
        }
    }

    func reset() {
        state.withLock { $0 = State() }
    }

    /// The same author: the same person (SDS user id) or system (ASID) in the same organisation.
    private static func authorKey(_ access: AccessRecord) -> String {
        let organisation = access.organisation?.odsCode ?? ""
        switch access.author {
        case .user(_, _, let sdsUserId): return "user:\(organisation):\(sdsUserId ?? "")"
        case .system(let asid, _, _): return "system:\(organisation):\(asid ?? "")"
        case nil: return "unknown:\(organisation)"
        }
    }
}
