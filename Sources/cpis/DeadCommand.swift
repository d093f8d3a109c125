import AMQPClient
import ArgumentParser
import CPISDomain
import Foundation
import Logging
import Observability
import Worker

/// `cpis dead`: the parking lot (`cpis.lookup.dead`), for the engineer on call.
struct DeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead",
        abstract: "Show the requests kept in the parking lot, and send chosen ones back to their lane.",
        subcommands: [List.self, Replay.self]
    )

    /// Where to look: the worker's settings (queue names, broker).
    struct Options: ParsableArguments {
        @Option(help: "The worker's settings file, for the queue names and the broker (default: Config/worker.yaml if it exists).")
        var config: String?

        @Option(help: "Look at no more than this many parked requests.")
        var limit = 1000

        func load() async throws -> (broker: AMQPConfiguration, topology: WorkerTopology) {
            try bootstrapLoggingFromEnvironment(defaultLevel: .warning)
            return try await WorkerConfiguration.loadBrokerAndTopology(
                file: try settingsFile(named: config, default: "Config/worker.yaml"),
                environment: ProcessInfo.processInfo.environment, connectionName: "cpis dead")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List parked requests: id, masked NHS number, lane, kind, when parked, attempts, whether answered, reason.",
            discussion: "Nothing is removed. Each look counts as a delivery of the parked messages.")

        @OptionGroup var options: Options

        @Option(help: "Only this kind (invalid-request, unauthorised, expired, delivery-limit, ...).")
        var kind: String?

        func run() async throws {
            let (broker, topology) = try await options.load()
            let browsed = try await ParkingLot.browse(broker: broker, topology: topology, limit: options.limit) { _, _ in .keep }
            let shown = browsed.parked.filter { kind == nil || $0.kind == kind }
            print("\(topology.dead): \(browsed.total) parked" + (kind.map { ", \(shown.count) of kind \($0)" } ?? "")
                + (browsed.parked.count < browsed.total ? " (looked at the first \(browsed.parked.count))" : ""))
            guard !shown.isEmpty else { return }
            let rows = [["REQUEST", "NHS NUMBER", "LANE", "KIND", "PARKED (UTC)", "ATTEMPTS", "ANSWERED", "REASON"]]
                + shown.map { parked in
                    // Reasons come from senders: an NHS number in them is masked too.
                    [parked.listedID, parked.maskedNHSNumber ?? "-", parked.lane?.rawValue ?? "-",
                     parked.kind, parked.parkedAt.map(UTCTimestamp.string) ?? "-", String(parked.attempts),
                     parked.wasAnswered ? "yes" : "no", NHSNumberMasking.masking(parked.reason)]
                }
            let widths = (0..<7).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                print(row.enumerated().map { index, cell in
                    index < 7 ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) : cell
                }.joined(separator: "  "))
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send chosen parked requests back to their lane, to be asked again.",
            discussion: """
                Choose them by --id, --kind or --all. --id takes a request id as `cpis dead list` prints it, with any \
                NHS number in it masked (quote it: it holds spaces and *), or in full; a masked id that several parked \
                requests share is skipped, and said so. A replayed request gets a new message id (its old one is \
                remembered as answered) and keeps the original as its correlation id. Requests whose sender already \
                had an answer (rejected, expired or failed) are skipped unless --include-answered: the EPR would get \
                a second result, and CP-IS would be asked about that child now.
                """)

        @OptionGroup var options: Options

        @Option(help: "A request id to replay, as listed (repeat for several).")
        var id: [String] = []

        @Option(help: "Replay every request of this kind.")
        var kind: String?

        @Flag(help: "Replay everything parked.")
        var all = false

        @Flag(help: "Replay requests whose sender already had an answer too.")
        var includeAnswered = false

        func validate() throws {
            guard all || kind != nil || !id.isEmpty else { throw ValidationError("choose what to replay: --id, --kind or --all") }
        }

        func run() async throws {
            let (broker, topology) = try await options.load()
            let wanted = Set(id)
            var skippedAnswered = 0
            var unusable = 0
            var ambiguous = 0
            let browsed = try await ParkingLot.browse(broker: broker, topology: topology, limit: options.limit) { parked, sharingListedID in
                // Masked, one id may stand for several requests: never guess which one was meant.
                let named = wanted.contains(parked.requestId) || (wanted.contains(parked.listedID) && sharingListedID == 1)
                guard all || named || (kind != nil && parked.kind == kind) else {
                    if wanted.contains(parked.listedID) { ambiguous += 1 }
                    return .keep
                }
                guard parked.lane != nil, parked.hasRequestID else {
                    unusable += 1
                    return .keep
                }
                guard includeAnswered || !parked.wasAnswered else {
                    skippedAnswered += 1
                    return .keep
                }
                return .replay
            }
            for (parked, newID) in browsed.replayed {
                print("replayed \(parked.listedID) as \(NHSNumberMasking.masking(newID)) "
                    + "(\(parked.maskedNHSNumber ?? "-"), \(parked.kind)) to \(parked.lane?.rawValue ?? "-")")
            }
            print("\(browsed.replayed.count) replayed")
            if skippedAnswered > 0 {
                print("\(skippedAnswered) skipped: their sender already had an answer; give --include-answered to ask again")
            }
            if unusable > 0 {
                print("\(unusable) skipped: no lane or no message_id recorded, so no result could be matched to them")
            }
            if ambiguous > 0 {
                print("\(ambiguous) skipped: their id, as listed, stands for several parked requests (the NHS numbers "
                    + "masked in it differ); replay them by --kind, or by their full id")
            }
            let missing = wanted.subtracting(browsed.parked.flatMap { [$0.requestId, $0.listedID] })
            if !missing.isEmpty { print("not parked: \(missing.sorted().map { NHSNumberMasking.masking($0) }.joined(separator: ", "))") }
        }
    }
}

/// Looks at the parking lot without taking anything out but what is replayed: its messages are
/// received unacknowledged, and go back to the queue when the connection closes.
enum ParkingLot {
    enum Choice { case keep, replay }

    struct Browsed {
        let total: Int
        let parked: [ParkedRequest]
        /// Each replayed request, with the message id it was sent back under.
        let replayed: [(ParkedRequest, String)]
    }

    /// `choose` is given each request with how many of those looked at share its listed id.
    static func browse(broker: AMQPConfiguration, topology: WorkerTopology, limit: Int,
                       choose: (ParkedRequest, _ sharingListedID: Int) -> Choice) async throws -> Browsed {
        let connection = try await AMQPConnection.connect(broker, logger: Logger(label: "cpis.dead"))
        let total = try await connection.inspect(queue: topology.dead).readyMessages
        let wanted = min(total, limit, Int(UInt16.max))
        let arrivals = AsyncStream<AMQPDelivery>.makeStream()
        if wanted > 0 {
            try await connection.consume(AMQPConsumer(queue: topology.dead, tag: "browse", prefetch: UInt16(wanted))) {
                arrivals.continuation.yield($0)
            }
        } else {
            arrivals.continuation.finish()
        }
        // Everything asked for is prefetched at once; if some never come (another consumer holds
        // them), the wait ends after 5 s with what came.
        let timer = Task {
            try? await Task.sleep(for: .seconds(5))
            arrivals.continuation.finish()
        }
        var deliveries: [AMQPDelivery] = []
        for await delivery in arrivals.stream {
            deliveries.append(delivery)
            if deliveries.count == wanted { break }
        }
        timer.cancel()
        let parked = deliveries.map { ParkedRequest($0.message, topology: topology) }
        let listedIDs = Dictionary(parked.map { ($0.listedID, 1) }, uniquingKeysWith: +)
        var replayed: [(ParkedRequest, String)] = []
        for (delivery, request) in zip(deliveries, parked) {
            guard choose(request, listedIDs[request.listedID] ?? 0) == .replay, let lane = request.lane else { continue }
            let message = request.replay(of: delivery.message)
            try await connection.publish(message, routingKey: topology.queue(for: lane), mandatory: true)
            try await connection.ack(delivery)
            replayed.append((request, message.properties.messageId ?? ""))
        }
        await connection.close()
        return Browsed(total: total, parked: parked, replayed: replayed)
    }
}

extension ParkedRequest {
    /// The request id as `cpis dead` prints it, and as `replay --id` takes it: ids come from
    /// senders, and an NHS number in one is masked.
    var listedID: String { NHSNumberMasking.masking(requestId) }
}
