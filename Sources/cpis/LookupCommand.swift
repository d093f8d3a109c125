import AMQPClient
import ArgumentParser
import CPISDomain
import Foundation
import Logging

/// `cpis lookup`: publishes one lookup as an EPR would, and prints the result.
struct LookupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lookup",
        abstract: "Send one CP-IS lookup through the broker, as an EPR at triage would, and print the result.",
        discussion: "Waits on RabbitMQ's direct reply-to (amq.rabbitmq.reply-to); the result is the contract's JSON."
    )

    @OptionGroup var broker: BrokerOptions

    @Option(name: .customLong("nhs-number"), help: "The child's NHS number (test patients: 999 000 0018 ... see Config/simulator-dataset.yaml).")
    var nhsNumber = "999 000 0018"

    @Option(help: "triage or batch.")
    var lane = "triage"

    @Option(help: "The requesting organisation's ODS code.")
    var ods = "RKE"

    @Option(help: "How long to wait for the answer, in seconds (also sent as the request's expiration).")
    var timeout = 30

    func run() async throws {
        // Checked before anything connects: a mistyped number is the commonest mistake here.
        let nhsNumber = try NHSNumber(nhsNumber)
        let configuration = try await broker.configuration(connectionName: "cpis lookup")
        try bootstrapLoggingFromEnvironment(defaultLevel: .warning)
        let logger = Logger(label: "cpis.lookup")
        let connection = try await AMQPConnection.connect(configuration, logger: logger)
        let replies = AsyncStream<AMQPDelivery>.makeStream()
        try await connection.consume(AMQPConsumer(queue: AMQPQueue.directReplyTo, tag: "reply", prefetch: 0,
                                                  acknowledgement: .automatic)) { replies.continuation.yield($0) }
        let request = LookupRequest(
            nhsNumber: nhsNumber,
            requester: Requester(organisation: Organisation(odsCode: ods, name: "cpis lookup (\(ods))"),
                                 author: .user(UserAuthor(sdsUserId: "999999999999",
                                                          jobRole: JobRole(code: "R0260", displayName: "General Medical Practitioner"),
                                                          name: PersonName(given: "Local", family: "Tester")))))
        let requestId = FreshUUID.string()
        try await connection.publish(AMQPMessage(body: request.json(), properties: AMQPProperties(
            contentType: "application/json", replyTo: AMQPQueue.directReplyTo, expiration: String(timeout * 1000),
            messageId: requestId, timestamp: Date(), userId: configuration.username)),
            routingKey: lane == "batch" ? "cpis.lookup.batch" : "cpis.lookup.triage", mandatory: true)
        let answer = await withTaskGroup(of: AMQPDelivery?.self) { group in
            group.addTask { await replies.stream.first { _ in true } }
            group.addTask {
                try? await Task.sleep(for: .seconds(timeout))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        await connection.close()
        guard let answer else { throw CommandFailure("no answer within \(timeout) s: is a worker running?") }
        print(answer.message.bodyText)
    }
}
