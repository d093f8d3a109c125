import CPISDomain
import Foundation
import HTTPTransport
import Logging
import Metrics
import Observability

/// Asks Spine's CP-IS itself, when this deployment is the SMSP (`spine-hl7v3-wire.md`): builds
/// QUPC_IN000006GB01, POSTs it over mutual TLS, reads the answer leniently and maps it to the SMSP
/// response codes (§6). The mapping is inferred from public sources: the codes for not-found reasons
/// are a setting. Blocking: call it from a Dispatch queue.
struct SpineClient: Upstream {
    let http: HTTPClient
    let builder: SpineRequestBuilder
    /// When set, every request is validated against QUPC_IN000006GB01.xsd before it is sent.
    let validator: SpineSchemaValidator?
    /// QUQI reason codes that mean "not on CP-IS" (CPIS-0001); any other reason is CPIS-9999.
    let notFoundReasons: Set<String>
    let endpoint: SOAPEndpoint
    private let logger: Logger

    init(http: HTTPClient, identity: SpineIdentity, validator: SpineSchemaValidator?, notFoundReasons: Set<String>,
         logger: Logger = Logger(label: "cpis.spine")) throws(HTTPTransportError)
    {
        self.logger = logger
        guard let url = URL(string: identity.endpoint) else {
            throw HTTPTransportError(.invalidRequest, "\(identity.endpoint) is not a URL")
        }
        self.http = http
        builder = SpineRequestBuilder(identity: identity)
        self.validator = validator
        self.notFoundReasons = notFoundReasons
        endpoint = try SOAPEndpoint(url, name: "Spine", unreachableCode: Self.connectFailure)
    }

    func call(_ request: LookupRequest, deadline: Date?, timeout: Duration, minimumCallTime: Duration) -> SMSPCallOutcome {
        let query: SpineRequest
        do {
            query = try builder.build(nhsNumber: request.nhsNumber, requester: request.requester)
            try validator?.validate(request: query)
        } catch let error as SMSPRequestError {
            return .notSent(message: error.description)
        } catch {
            // Our own message failing Spine's schema is our bug: nothing is sent (SMSP-9999).
            return .rejected(message: "the Spine request we built does not conform to QUPC_IN000006GB01.xsd: \(error)",
                             responseCode: ResponseCode(code: "SMSP-9999", displayName: "SMSP software failure"))
        }
        switch endpoint.post(query.body, soapAction: query.soapAction, over: http, deadline: deadline, timeout: timeout,
                             minimumCallTime: minimumCallTime) {
        case .outcome(let outcome): return outcome
        case .response(let response): return classify(response, to: query, about: request.nhsNumber)
        }
    }

    static let connectFailure = ResponseCode(code: "SMSP-0004", displayName: "Unable to connect to Spine")

    /// Maps Spine's answer to the outcome and its SMSP response code (wire format §5.6 and §6).
    ///
    /// Every answer that shows the query reached Spine (a fault, an acknowledgement, a failed query
    /// act, a gateway's 502–504, an answer that cannot be read) may have notified the local
    /// authority: it says so (`mayHaveReachedCPIS`), and is asked again only where the settings allow.
    func classify(_ response: HTTPResponse, to query: SpineRequest, about nhsNumber: NHSNumber) -> SMSPCallOutcome {
        func cannotRead(_ why: String) -> SMSPCallOutcome {
            if [502, 503, 504].contains(response.status) {
                return .unavailable(message: "HTTP \(response.status) from Spine, no answer: \(why)", responseCode: Self.connectFailure,
                                    maximumRetries: nil, timedOut: false, mayHaveReachedCPIS: true)
            }
            return .unavailable(message: "HTTP \(response.status) from Spine that cannot be used: \(why)", responseCode: .responseValidationError,
                                maximumRetries: 1, timedOut: false, mayHaveReachedCPIS: true)
        }
        let spineResponse: SpineResponse
        do {
            let document = try SpineResponseReader.document(response.body)
            if let findings = validator?.findings(in: document) {
                // Read leniently all the same: NHS Digital's own answers fail their schemas in places.
                logger.warning("Spine's \(findings.interaction) fails its schema (read all the same): \(findings.problem)")
                Counter(label: "cpis_spine_schema_findings_total", dimensions: [("interaction", findings.interaction)]).increment()
            }
            spineResponse = try SpineResponseReader.read(document)
        } catch {
            return cannotRead(error.message)
        }
        // Answers come with 200, faults with 500 (wire format §5): anything else is not Spine's answer.
        let isFault = if case .fault = spineResponse.answer { true } else { false }
        guard response.status == (isFault ? 500 : 200) else { return cannotRead("an answer with an unexpected status") }
        if let problem = spineResponse.mismatch(with: query) {
            return .wrongPatient(message: "\(problem): it may be another patient's answer, so none of it is used")
        }
        let serviceError = ResponseCode(code: "CPIS-9999", displayName: "CP-IS service error")
        switch spineResponse.answer {
        case .records(let answer):
            let unnumbered = answer.plans.filter { $0.subject.identifyingNHSNumber == nil }.count
            let vouched = unnumbered > 0 && Self.vouchesForUnnumberedRecords(spineResponse, about: nhsNumber)
            let asked = SMSPResponse(relatesTo: nil, trackingID: nil, answer: answer)
            if let problem = SMSPClient.mismatch(asked, asked: query.messageID, about: nhsNumber, allowingUnnumbered: vouched) {
                return .wrongPatient(message: problem)
            }
            if unnumbered > 0 {
                logger.warning("""
                    Spine's answer has \(unnumbered) record(s) naming no child, as NHS Digital's own template does: \
                    delivered, as its wsa:RelatesTo names our query and every NHS number in it is the one asked
                    """, metadata: [LogKey.nhsNumber: "\(nhsNumber.masked)"])
                Counter(label: "cpis_spine_unnumbered_records_total").increment(by: unnumbered)
            }
            return .answered(answer, spine: audit(query, spineResponse))
        case .queryActFailed(let reasons) where reasons.contains(where: { notFoundReasons.contains($0.code) }):
            return .answered(CPISAnswer(responseCode: .noMatch,
                                        totalAccessRecords: 0, totalChildRecords: 0),
                             spine: audit(query, spineResponse))
        case .queryActFailed(let reasons):
            return .unavailable(message: "Spine: query act failed (\(reasons.map(\.description).joined(separator: "; ")))",
                                responseCode: serviceError, maximumRetries: nil, timedOut: false, mayHaveReachedCPIS: true)
        case .acknowledgement(let typeCode, let reasons):
            return .unavailable(message: "Spine: application acknowledgement \(typeCode) "
                + "(\(reasons.map(\.description).joined(separator: "; ")))",
                                responseCode: serviceError, maximumRetries: nil, timedOut: false, mayHaveReachedCPIS: true)
        case .fault(let code, let text, let errors) where code == "Client":
            // Spine refused our envelope: our bug, not worth repeating (SMSP-9999).
            return .rejected(message: "Spine refused our request (SOAP Client fault: \(text); "
                + "\(errors.map { "\($0.errorCode) \($0.description)" }.joined(separator: "; ")))",
                             responseCode: ResponseCode(code: "SMSP-9999", displayName: "SMSP software failure"))
        case .fault(_, let text, let errors):
            return .unavailable(message: "Spine: SOAP Server fault (\(text); "
                + "\(errors.map { "\($0.errorCode) \($0.description)" }.joined(separator: "; ")))",
                                responseCode: serviceError, maximumRetries: nil, timedOut: false, mayHaveReachedCPIS: true)
        case .messagingError(let errors):
            // A messaging-layer refusal (no contract found): the query went no further.
            return .unavailable(message: "Spine: ebXML message error (\(errors.map(\.description).joined(separator: "; ")))",
                                responseCode: serviceError, maximumRetries: nil, timedOut: false)
        }
    }

    /// Whether a record naming no child may be delivered (`spine-hl7v3-wire.md` §8: read Spine
    /// leniently; NHS Digital's success template has such a record): only where everything else in the
    /// answer ties it to our query and this child. Its `wsa:RelatesTo` names our query (``SpineResponse/mismatch(with:)``
    /// has compared it; REPC carries no HL7 acknowledgement to compare), and it names NHS numbers (the
    /// queries it lists, this one included), every one the child's. Where the lenient reading and the
    /// rule that every record is about the child asked about meet, the rule wins: any other number, or
    /// no `wsa:RelatesTo`, and none of the answer is used (hazard log, HAZ-01 over HAZ-02).
    static func vouchesForUnnumberedRecords(_ response: SpineResponse, about nhsNumber: NHSNumber) -> Bool {
        response.relatesTo != nil && !response.nhsNumbers.isEmpty
            && response.nhsNumbers.allSatisfy { NHSNumber.digits(of: $0) == nhsNumber.digits }
    }

    private func audit(_ query: SpineRequest, _ response: SpineResponse) -> AccessNotification.SpineAudit {
        AccessNotification.SpineAudit(queryMessageID: query.messageID, answerMessageID: response.messageID,
                                      asid: builder.identity.asid, partyKey: builder.identity.partyKey,
                                      spineASID: builder.identity.spineASID, author: query.author)
    }
}
