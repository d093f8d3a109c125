import AMQPClient
import CPISDomain
import Foundation
import Testing
@testable import Worker

@Suite("lookup intake: validation, authorisation, deadline")
struct LookupIntakeTests {
    static let body = #"""
        {"nhsNumber":"943 476 5919","requester":{"organisation":{"odsCode":"RKE","name":"The Whittington Hospital"},
         "user":{"sdsUserId":"200009876204","jobRole":{"code":"R0260","displayName":"GP"},"name":{"family":"Palmer"}}}}
        """#
    static let intake = LookupIntake(maximumBodyBytes: 4096,
                                     authorisation: Authorisation(odsCodesByUser: ["epr-whittington": ["RKE"]]))

    static func message(_ body: String = body, messageId: String? = "req-1", contentType: String? = "application/json",
                        userId: String? = "epr-whittington", expiration: String? = nil,
                        headers: AMQPTable = [:]) -> AMQPMessage {
        AMQPMessage(body, properties: AMQPProperties(contentType: contentType, headers: headers, correlationId: nil,
                                                     replyTo: "epr.replies", expiration: expiration,
                                                     messageId: messageId, userId: userId))
    }

    @Test("a good request is accepted with its identity, reply address and lane")
    func accepts() throws {
        guard case .accept(let job) = Self.intake.decide(Self.message(), lane: .triage, now: Date()) else {
            Issue.record("refused")
            return
        }
        #expect(job.requestId == "req-1")
        #expect(job.correlationId == "req-1")
        #expect(job.replyTo == "epr.replies")
        #expect(job.request.nhsNumber.digits == "9434765919")
        #expect(job.attempts == 0)
        #expect(job.deadline == nil)
    }

    @Test("bad input is refused with a message a person can act on", arguments: [
        (message(messageId: nil), LookupResult.Failure.Kind.invalidRequest, "no message_id"),
        (message(contentType: "text/plain"), .invalidRequest, "content_type must be application/json"),
        (message(contentType: nil), .invalidRequest, "content_type must be application/json"),
        (message(String(repeating: " ", count: 5000)), .invalidRequest, "the limit is 4096"),
        (message("not json"), .invalidRequest, "not valid JSON"),
        (message(#"{"nhsNumber":"1234567890"}"#), .invalidRequest, "requester is missing"),
        (message(body.replacingOccurrences(of: "943 476 5919", with: "943 476 5918")), .invalidRequest, "check digit"),
        (message(userId: nil), .unauthorised, "no user_id"),
        (message(userId: "someone-else"), .unauthorised, "not authorised"),
        (message(body.replacingOccurrences(of: "RKE", with: "RAL")), .unauthorised, "may not act for organisation RAL"),
    ])
    func refuses(message: AMQPMessage, kind: LookupResult.Failure.Kind, text: String) {
        guard case .refuse(let refusal) = Self.intake.decide(message, lane: .batch, now: Date()) else {
            Issue.record("accepted")
            return
        }
        #expect(refusal.kind == kind)
        #expect(refusal.message.contains(text), "\(refusal.message)")
    }

    @Test("without authorisation settings every request is allowed (local development)")
    func openAuthorisation() {
        let open = LookupIntake(maximumBodyBytes: 4096, authorisation: Authorisation(odsCodesByUser: nil))
        guard case .accept = open.decide(Self.message(userId: nil), lane: .triage, now: Date()) else {
            Issue.record("refused")
            return
        }
    }

    @Test("deadline: from the caller's expiration, carried by retries, and refused once past")
    func deadlines() {
        let now = Date()
        guard case .accept(let job) = Self.intake.decide(Self.message(expiration: "1500"), lane: .triage, now: now) else {
            Issue.record("refused")
            return
        }
        #expect(job.deadline == now.addingTimeInterval(1.5))
        let past = Int64((now.timeIntervalSince1970 - 1) * 1000)
        let retried = Self.message(headers: [LookupIntake.deadlineHeader: .int(past), LookupIntake.attemptsHeader: 2])
        guard case .expired(let refusal) = Self.intake.decide(retried, lane: .triage, now: now) else {
            Issue.record("not expired")
            return
        }
        #expect(refusal.kind == .expired)
        #expect(refusal.nhsNumber == "9434765919")
    }

    @Test("deadline: counted from the AMQP timestamp where set, never from later than receipt, else from receipt")
    func deadlineFromTimestamp() {
        let received = Date()
        var properties = AMQPProperties(expiration: "5000")
        #expect(LookupIntake.deadline(properties, receivedAt: received) == received.addingTimeInterval(5))
        properties.timestamp = received.addingTimeInterval(-3)
        #expect(LookupIntake.deadline(properties, receivedAt: received) == received.addingTimeInterval(2))
        properties.timestamp = received.addingTimeInterval(60)  // the publisher's clock runs ahead
        #expect(LookupIntake.deadline(properties, receivedAt: received) == received.addingTimeInterval(5))
        properties.expiration = nil
        #expect(LookupIntake.deadline(properties, receivedAt: received) == nil, "no expiration: no deadline")
        // Decided later than received: the deadline still counts from receipt.
        let message = Self.message(expiration: "1000")
        guard case .expired = Self.intake.decide(message, lane: .triage, receivedAt: received,
                                                 now: received.addingTimeInterval(1.2)) else {
            Issue.record("a lookup that waited in the worker past its patience was not expired")
            return
        }
    }
}
