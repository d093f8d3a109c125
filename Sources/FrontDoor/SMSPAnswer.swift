import CPISDomain
import Foundation
import HTTPTransport

/// What the front door says to its caller, in the SMSP's own format: a business answer (HTTP 200,
/// a `CP-ISNHSQueryResponse` with its response code) or a SOAP fault (HTTP 500).
enum SMSPAnswer {
    /// The response code for a worker's result (nil: the request itself was invalid, answered with
    /// a Client fault). An upstream answer's own code is passed on as it came, with its wording.
    static func responseCode(for result: LookupResult) -> ResponseCode? {
        switch result.outcome {
        case .recordsFound, .noRecord:
            if result.possiblyStale {
                return result.responseCode?.code == ResponseCode.localStoreOnly.code ? result.responseCode : .localStoreOnly
            }
            let code: ResponseCode = result.outcome == .recordsFound ? .success : .noMatch
            return result.responseCode?.code == code.code ? result.responseCode : code
        case .rejected:
            return result.error?.kind == .unauthorised ? .authorCredentialsError : nil
        case .failed:
            if let code = result.responseCode { return code }
            switch result.error?.kind {
            case .invalidRequest?: return nil
            case .unauthorised?: return .authorCredentialsError
            // The upstream answered about another patient: its answer failed our validation.
            case .wrongPatient?: return .responseValidationError
            case .upstreamRejected?: return .softwareFailure
            case .upstreamUnavailable?, .timeout?, .expired?, nil: return .spineUnavailable
            }
        case .expired:
            return .spineUnavailable
        }
    }

    /// Why `result` is not only about `nhsNumber`, or nil when it is: the result names another NHS
    /// number, or a record is about another child. A record naming no child passes: the worker
    /// delivers one only where the rest of Spine's answer vouches for it (hazard log, HAZ-01).
    static func notAbout(_ nhsNumber: NHSNumber, _ result: LookupResult) -> String? {
        if let number = result.nhsNumber, number != nhsNumber.digits {
            return "is about another NHS number (\(NHSNumber.masked(digits: number)), not \(nhsNumber))"
        }
        return result.plans.notAbout(nhsNumber, allowingUnnumbered: true)
    }

    /// The HTTP response for a worker's result.
    static func response(for result: LookupResult, relatesTo: String, senderODSCode: String) -> HTTPResponse {
        guard let code = responseCode(for: result) else {
            return clientFault([result.error?.message ?? "the request is invalid"])
        }
        let isAnswer = code.disposition.isAnswer
        let plans = isAnswer ? result.plans : []
        let history = isAnswer ? result.accessHistory : []
        return answer(CPISAnswer(responseCode: code, effectiveTime: result.completedAt, plans: plans,
                                 accessHistory: history, totalAccessRecords: history.count, totalChildRecords: plans.count),
                      relatesTo: relatesTo, senderODSCode: senderODSCode)
    }

    /// A business answer with no records (an error code, or the front door's own refusal).
    static func code(_ code: ResponseCode, relatesTo: String, senderODSCode: String) -> HTTPResponse {
        answer(CPISAnswer(responseCode: code, effectiveTime: Date(), totalAccessRecords: 0, totalChildRecords: 0),
               relatesTo: relatesTo, senderODSCode: senderODSCode)
    }

    static func clientFault(_ problems: [String]) -> HTTPResponse {
        fault(.client(problems: problems))
    }

    private static func answer(_ answer: CPISAnswer, relatesTo: String, senderODSCode: String) -> HTTPResponse {
        xml(200, SMSPResponseBuilder.soapResponse(answer, relatesTo: relatesTo, senderODSCode: senderODSCode))
    }

    private static func fault(_ fault: SOAPFault) -> HTTPResponse {
        xml(500, SMSPResponseBuilder.soapFault(fault))
    }

    private static func xml(_ status: Int, _ body: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/xml; charset=utf-8"], body: Array(body.utf8))
    }
}
