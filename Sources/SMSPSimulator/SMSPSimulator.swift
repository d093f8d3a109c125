import CPISDomain
import Foundation
import Synchronization
import XMLSupport

/// What to do with one request, for the HTTP layer to carry out (after the latency).
public enum SimulatorReply: Sendable, Hashable {
    case respond(status: Int, contentType: String, body: String)
    /// Never answer.
    case noResponse
    /// Start the response, then reset the connection half way through the body.
    case resetMidBody(status: Int, contentType: String, body: String)
}

/// A CP-IS SMSP endpoint's behaviour, without the transport: judges each request as the NHS test
/// tool does, answers trigger numbers and dataset patients, records accesses and notifications,
/// and injects the configured faults. Thread-safe: the HTTP server calls it from many threads.
public final class SMSPSimulator: Sendable {
    private struct State {
        var behaviour: SimulatorBehaviour
        var sequences: [String: [SimulatorStep]] = [:]
    }

    let dataset: SimulatorDataset
    private let inspector: SMSPRequestInspector
    let seenMessageIDs = SeenMessageIDs(window: 24 * 3600, capacity: 100_000)
    let register = AccessRegister()
    private let state: Mutex<State>
    let now: @Sendable () -> Date
    let requests = Atomic<Int>(0)
    private let inFlight = Mutex((now: 0, most: 0))
    static let xmlContentType = "text/xml; charset=utf-8"

    /// - Parameters:
    ///   - expectedTo: the endpoint URL requests must name in `wsa:To`; nil accepts any.
    ///   - now: the clock (tests move it to check the 24-hour history rule).
    public init(dataset: SimulatorDataset, behaviour: SimulatorBehaviour = SimulatorBehaviour(),
                expectedTo: String? = nil, now: @escaping @Sendable () -> Date = Date.init) {
        self.dataset = dataset
        self.inspector = SMSPRequestInspector(expectedTo: expectedTo)
        self.state = Mutex(State(behaviour: behaviour))
        self.now = now
    }

    public var patientCount: Int { dataset.plansByNHSNumber.count }

    /// SOAP requests received so far, answered or not.
    public var requestCount: Int { requests.load(ordering: .relaxed) }

    /// The most SOAP requests that were being handled at once (received, answer not yet returned)
    /// since the start or the last ``resetMostInFlight()``: how a client's concurrency bound looks
    /// from the server.
    public var mostInFlight: Int { inFlight.withLock { $0.most } }

    public func resetMostInFlight() { inFlight.withLock { $0.most = $0.now } }

    /// Brackets the handling of one request (the HTTP layer calls it around latency and answer).
    public func handling<Result>(_ body: () -> Result) -> Result {
        inFlight.withLock { state in
            state.now += 1
            state.most = max(state.most, state.now)
        }
        defer { inFlight.withLock { $0.now -= 1 } }
        return body()
    }

    // MARK: Answering

    /// Judges and answers one POSTed SOAP request.
    public func handle(soapAction: String?, body: [UInt8]) -> SimulatorReply {
        requests.add(1, ordering: .relaxed)
        let request: SMSPIncomingRequest
        do {
            request = try SMSPRequestReader.read(body)
        } catch {
            return clientFault(["the request is not a SOAP message: \(error.message)"])
        }
        let time = now()
        var problems = inspector.problems(soapAction: soapAction, request: request, now: time)
        if let messageID = request.messageID, problems.isEmpty, !seenMessageIDs.firstUse(of: messageID, at: time) {
            problems.append("wsa:MessageID \(messageID) was already used: every message needs a new one")
        }
        guard problems.isEmpty, let query = request.query, let rawNumber = query.nhsNumber,
              let messageID = request.messageID
        else { return clientFault(problems) }

        // A well-formed query for a number that fails the NHS number check is a business error.
        guard let nhsNumber = try? NHSNumber(rawNumber) else {
            return answer(CPISAnswer(responseCode: ResponseCode.inputValidationError,
                                     totalAccessRecords: 0, totalChildRecords: 0), relatesTo: messageID)
        }
        switch nextStep(for: nhsNumber.digits) {
        case .fault(.http503):
            return .respond(status: 503, contentType: "text/plain; charset=utf-8",
                            body: "503 Service Unavailable: no SMSP instance is available\n")
        case .fault(.soapServerFault):
            return .respond(status: 500, contentType: Self.xmlContentType, body: SMSPResponseBuilder.soapFault(SOAPFault(
                faultCode: "soap:Server", faultString: "A server related error has occurred, see detail element",
                errorID: FreshUUID.string(), errorCode: "2200", errorText: "Service unavailable",
                errorDiagnosticText: "the SMSP could not process the request (simulated)")))
        case .fault(.noResponse):
            return .noResponse
        case .fault(.resetMidBody):
            guard case .respond(let status, let contentType, let body) = answer(query, nhsNumber, messageID, time) else {
                return .noResponse
            }
            return .resetMidBody(status: status, contentType: contentType, body: body)
        case .fault(.invalidXML):
            let full = SMSPResponseBuilder.soapResponse(CPISAnswer(responseCode: ResponseCode.noMatch),
                                                        relatesTo: messageID)
            return .respond(status: 200, contentType: Self.xmlContentType, body: String(full.prefix(full.count / 2)))
        case .fault(.wrongPayload):
            return .respond(status: 200, contentType: Self.xmlContentType, body: Self.wrongPayload(relatesTo: messageID))
        case .fault(.crossedRecord):
            return crossedAnswer(asked: nhsNumber, unborn: false, relatesTo: messageID, time: time)
        case .fault(.crossedUnbornRecord):
            return crossedAnswer(asked: nhsNumber, unborn: true, relatesTo: messageID, time: time)
        case .fault(.wrongRelatesTo):
            return answer(query, nhsNumber, messageID, time, relatesTo: "uuid:\(FreshUUID.string())")
        case .answer:
            return answer(query, nhsNumber, messageID, time)
        }
    }

    private func answer(_ query: CPISQuery, _ nhsNumber: NHSNumber, _ messageID: String, _ time: Date,
                        relatesTo: String? = nil) -> SimulatorReply {
        let relatesTo = relatesTo ?? messageID
        if let code = TestToolTriggers.answers[nhsNumber.digits] {
            return answer(CPISAnswer(responseCode: code, totalAccessRecords: 0, totalChildRecords: 0), relatesTo: relatesTo)
        }
        guard let plans = dataset.plansByNHSNumber[nhsNumber.digits] else {
            return answer(CPISAnswer(responseCode: ResponseCode.noMatch, totalAccessRecords: 0, totalChildRecords: 0),
                          relatesTo: relatesTo)
        }
        let access = AccessRecord(accessedAt: time, organisation: query.organisation, author: query.author)
        let history = register.record(nhsNumber: nhsNumber.digits, access: access, messageID: messageID, plans: plans)
        return answer(CPISAnswer(responseCode: ResponseCode.success, effectiveTime: time, plans: plans,
                                 accessHistory: history, totalAccessRecords: history.count,
                                 totalChildRecords: plans.count),
                      relatesTo: relatesTo)
    }

    /// A success answer about another dataset patient than the one asked about: a child's plan, or
    /// an unborn child's plan (identified by its mother).
    private func crossedAnswer(asked: NHSNumber, unborn: Bool, relatesTo: String, time: Date) -> SimulatorReply {
        guard let plans = crossedPlans(asked: asked, unborn: unborn) else {
            return clientFault(["the dataset has no other patient to cross with"])
        }
        return answer(CPISAnswer(responseCode: ResponseCode.success, effectiveTime: time, plans: plans,
                                 totalAccessRecords: 0, totalChildRecords: plans.count),
                      relatesTo: relatesTo)
    }

    /// Another dataset patient's plans than the one asked about: a child's, or an unborn child's.
    func crossedPlans(asked: NHSNumber, unborn: Bool) -> [ProtectionPlan]? {
        dataset.plansByNHSNumber.sorted { $0.key < $1.key }.first { number, plans in
            number != asked.digits && plans.contains { plan in
                if case .unbornChild = plan.subject { unborn } else { !unborn }
            }
        }?.value
    }

    private func answer(_ answer: CPISAnswer, relatesTo: String) -> SimulatorReply {
        .respond(status: 200, contentType: Self.xmlContentType,
                 body: SMSPResponseBuilder.soapResponse(answer, relatesTo: relatesTo))
    }

    private func clientFault(_ problems: [String]) -> SimulatorReply {
        .respond(status: 500, contentType: Self.xmlContentType, body: SMSPResponseBuilder.soapFault(.client(problems: problems)))
    }

    private static func wrongPayload(relatesTo: String) -> String {
        let markup: XMLMarkup = """
            <?xml version="1.0" encoding="UTF-8"?>
            <soap:Envelope xmlns:soap="\(SMSPNamespaces.soap)" xmlns:wsa="\(SMSPNamespaces.addressing)">
            <soap:Header><wsa:RelatesTo>\(relatesTo)</wsa:RelatesTo></soap:Header>
            <soap:Body><itk:DistributionEnvelope xmlns:itk="\(SMSPNamespaces.itk)">
            <itk:header service="\(SMSPConstants.responseService)" trackingid="\(FreshUUID.string())"/>
            <itk:payloads count="1"><itk:payload id="uuid_\(FreshUUID.string())">
            <getPatientDetailsResponse-v1-0 xmlns="urn:hl7-org:v3"><value code="SMSP-0000"/></getPatientDetailsResponse-v1-0>
            </itk:payload></itk:payloads>
            </itk:DistributionEnvelope></soap:Body>
            </soap:Envelope>
            """
        return markup.text
    }

    // MARK: Behaviour

    /// The latency to wait before this response (drawn per request).
    public func nextLatency() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return state.withLock { $0.behaviour.latency }.sample(using: &generator)
    }

    public var behaviour: SimulatorBehaviour {
        get { state.withLock { $0.behaviour } }
        set { state.withLock { $0.behaviour = newValue } }
    }

    /// Scripts the next answers for one NHS number (e.g. fault, fault, answer); afterwards it is
    /// answered as usual.
    public func script(nhsNumber: String, steps: [SimulatorStep]) {
        state.withLock { $0.sequences[nhsNumber] = steps }
    }

    /// What CP-IS would have told local authorities, optionally filtered.
    public func notifications(localAuthority: String? = nil, nhsNumber: String? = nil) -> [LocalAuthorityNotification] {
        register.notifications(localAuthority: localAuthority, nhsNumber: nhsNumber)
    }

    /// Forgets accesses, notifications, scripts, seen message ids and the most in flight (between test runs).
    public func reset() {
        register.reset()
        resetMostInFlight()
        state.withLock { $0.sequences = [:] }
        seenMessageIDs.forgetAll()
    }

    func nextStep(for nhsNumber: String) -> SimulatorStep {
        state.withLock { state in
            if var steps = state.sequences[nhsNumber], !steps.isEmpty {
                let step = steps.removeFirst()
                state.sequences[nhsNumber] = steps.isEmpty ? nil : steps
                return step
            }
            if let fault = state.behaviour.faultTriggers[nhsNumber] { return .fault(fault) }
            for fault in SimulatorFault.allCases {
                if let rate = state.behaviour.faultRates[fault], rate > 0, Double.random(in: 0..<1) < rate {
                    return .fault(fault)
                }
            }
            return .answer
        }
    }
}
