import CPISDomain
import Foundation
import HTTPTransport
import Logging
import Observability
import Synchronization
import XMLSupport

/// The SMSP CP-IS API, served to care providers' systems: each SOAP `CP-ISNHSQuery` is checked as
/// the NHS test tool checks it, authorised by the client's certificate, and turned into a contract
/// lookup on the triage lane; the worker's result comes back as the SMSP's `CP-ISNHSQueryResponse`.
///
/// | what comes in | what goes back |
/// |---|---|
/// | a request the checks refuse (SOAPAction, WS-Addressing, WS-Security, envelope, payload, a reused MessageID) | SOAP Client fault naming every problem |
/// | an NHS number that fails its check digit | SMSP-0001, nothing sent |
/// | a client or organisation not authorised | SMSP-0005, nothing sent |
/// | a reused tracking id asking another NHS number or requester | SOAP Client fault, nothing sent |
/// | a lookup | the worker's outcome: SMSP-0000, CPIS-0001, SMSP-0003, or the upstream's error code |
/// | a result with a record about another child (checked again at the last step) | SMSP-0002, none of it returned |
/// | less than the minimum call time left before `wsu:Expires` | SMSP-0004 at once, nothing sent |
/// | no result within the caller's patience | SMSP-0004; the lookup expires and is never asked later |
final class FrontDoor: Sendable {
    private let configuration: FrontDoorConfiguration
    private let relay: LookupRelay
    private let inspector: SMSPRequestInspector
    private let seenMessageIDs: SeenMessageIDs
    private let metrics: FrontDoorMetrics
    private let logger: Logger
    private let queriesUnderWay = Atomic(0)

    init(configuration: FrontDoorConfiguration, relay: LookupRelay, metrics: FrontDoorMetrics, logger: Logger) {
        self.configuration = configuration
        self.relay = relay
        inspector = SMSPRequestInspector(expectedTo: configuration.endpoint)
        seenMessageIDs = SeenMessageIDs(window: configuration.messageIDWindow.seconds, capacity: 1_000_000)
        self.metrics = metrics
        self.logger = logger
    }

    func handle(_ request: HTTPRequest, from peer: HTTPPeer) -> HTTPServerReply {
        let path = request.target.prefix { $0 != "?" }
        guard path == configuration.path else {
            return .respond(HTTPResponse(status: 404, headers: ["Content-Type": "text/plain; charset=utf-8"],
                                         body: Array("not found: the CP-IS SMSP endpoint is \(configuration.path)\n".utf8)))
        }
        guard request.method == "POST" else {
            return .respond(HTTPResponse(status: 405, headers: ["Allow": "POST", "Content-Type": "text/plain; charset=utf-8"],
                                         body: Array("only POST\n".utf8)))
        }
        let started = ContinuousClock.now
        queriesUnderWay.add(1, ordering: .relaxed)
        defer { queriesUnderWay.subtract(1, ordering: .relaxed) }
        let (response, answer) = query(request, from: peer)
        metrics.answered(answer, after: ContinuousClock.now - started)
        return .respond(response)
    }

    /// Queries received and not yet answered (a shutdown waits for them).
    var queriesInProgress: Int { queriesUnderWay.load(ordering: .relaxed) }

    /// What the front door answered, for the metrics and the log.
    enum Answer: Equatable {
        case code(String, resent: Bool)
        case clientFault
    }

    private func query(_ request: HTTPRequest, from peer: HTTPPeer) -> (HTTPResponse, Answer) {
        let receivedAt = Date()
        var logger = self.logger
        logger[metadataKey: LogKey.client] = "\(peer.certificateSubject.flatMap(ClientAuthorisation.commonName) ?? peer.address)"

        let incoming: SMSPIncomingRequest
        do {
            incoming = try SMSPRequestReader.read(request.body, limits: configuration.xmlLimits)
        } catch {
            logger.notice("refused a request that is not a SOAP message: \(error.message)")
            return (SMSPAnswer.clientFault(["the request is not a SOAP message: \(error.message)"]), .clientFault)
        }
        logger[metadataKey: LogKey.trackingID] = "\(incoming.trackingID ?? "-")"
        var problems = inspector.problems(soapAction: request.headers["SOAPAction"], request: incoming, now: receivedAt)
        if problems.isEmpty, let messageID = incoming.messageID, !seenMessageIDs.firstUse(of: messageID, at: receivedAt) {
            problems.append("wsa:MessageID \(messageID) was already used: every message needs a new one "
                + "(a resend keeps the ITK tracking id and takes a new MessageID)")
        }
        let requester = problems.isEmpty ? Self.requester(of: incoming, problems: &problems) : nil
        guard problems.isEmpty, let requester, let messageID = incoming.messageID, let trackingID = incoming.trackingID,
              let rawNumber = incoming.query?.nhsNumber
        else {
            logger.notice("refused a request: \(problems.joined(separator: "; "))")
            return (SMSPAnswer.clientFault(problems), .clientFault)
        }
        let reply = { (code: ResponseCode) in
            SMSPAnswer.code(code, relatesTo: messageID, senderODSCode: self.configuration.senderODSCode)
        }
        guard let nhsNumber = try? NHSNumber(rawNumber) else {
            logger.notice("refused a query: the NHS number fails its check (SMSP-0001)")
            return (reply(.inputValidationError), .code(ResponseCode.inputValidationError.code, resent: false))
        }
        if let problem = configuration.clients.problem(clientSubject: peer.certificateSubject, request: incoming) {
            logger.warning("refused a query: \(problem) (SMSP-0005)")
            return (reply(.authorCredentialsError), .code(ResponseCode.authorCredentialsError.code, resent: false))
        }

        // The caller's patience, and never past the message's own expiry.
        var deadline = receivedAt.addingTimeInterval(configuration.patience.seconds)
        if let expires = incoming.expires.flatMap(UTCTimestamp.date) { deadline = min(deadline, expires) }
        let key = LookupRelay.MessageKey(client: peer.certificateSubject ?? "", trackingID: trackingID)
        switch relay.lookup(LookupRequest(nhsNumber: nhsNumber, requester: requester), key: key, deadline: deadline) {
        case .answered(let result, let resent):
            // The last step: whatever goes back is about the child this request asked about.
            if let problem = SMSPAnswer.notAbout(nhsNumber, result) {
                logger.critical("SAFETY HAZ-01: the result for this query \(problem): none of it is returned (SMSP-0002)",
                                metadata: [LogKey.request: "\(result.requestId)", LogKey.nhsNumber: "\(nhsNumber.masked)"])
                return (reply(.responseValidationError), .code(ResponseCode.responseValidationError.code, resent: resent))
            }
            let response = SMSPAnswer.response(for: result, relatesTo: messageID, senderODSCode: configuration.senderODSCode)
            let code = SMSPAnswer.responseCode(for: result)
            logger.info("answered \(code?.code ?? "with a Client fault")\(resent ? " (a resend: from the first message's lookup)" : "")",
                        metadata: [LogKey.request: "\(result.requestId)"])
            return (response, code.map { .code($0.code, resent: resent) } ?? .clientFault)
        case .trackingIDReused(let difference):
            logger.warning("refused a query: its tracking id was used for another query (\(difference))")
            return (SMSPAnswer.clientFault([
                "itk:header/@trackingid \(trackingID) was already used for another query (\(difference)): every new query "
                    + "needs a new tracking id (a resend keeps it and asks the same); nothing was asked"]), .clientFault)
        case .noTimeToAsk:
            logger.warning("too little time left before wsu:Expires to ask CP-IS: answered SMSP-0004, nothing asked")
            return (reply(.spineUnavailable), .code(ResponseCode.spineUnavailable.code, resent: false))
        case .noAnswerInTime:
            logger.warning("no result within the caller's patience: answered SMSP-0004 (the lookup expires unasked)")
            return (reply(.spineUnavailable), .code(ResponseCode.spineUnavailable.code, resent: false))
        case .notPublished(let problem):
            logger.error("answered SMSP-0004: \(problem)")
            return (reply(.spineUnavailable), .code(ResponseCode.spineUnavailable.code, resent: false))
        }
    }

    /// The contract's requester from the query's author, or the problems that stop one being made.
    static func requester(of request: SMSPIncomingRequest, problems: inout [String]) -> Requester? {
        guard let query = request.query, let organisation = query.organisation else {
            problems.append("the query names no organisation")
            return nil
        }
        switch query.author {
        case .user(let name, let jobRole, let sdsUserId)?:
            guard let jobRole, let sdsUserId else { return nil }  // the inspector has named them
            return Requester(organisation: organisation, author: .user(UserAuthor(
                sdsUserId: sdsUserId, sdsRoleProfileId: query.sdsRoleProfileId, jobRole: jobRole, name: name ?? PersonName())))
        case .system(let asid, let nominatedPerson, let jobRole)?:
            guard let asid else { return nil }
            guard let jobRole, !jobRole.code.isEmpty, !jobRole.displayName.isEmpty else {
                problems.append("the system author's responsible person needs a job role (code and displayName)")
                return nil
            }
            return Requester(organisation: organisation, author: .system(SystemAuthor(
                asid: asid, nominatedPerson: NominatedPerson(jobRole: jobRole, name: nominatedPerson ?? PersonName()))))
        case nil:
            problems.append("the query has no author")
            return nil
        }
    }
}
