import Metrics
import Synchronization

/// The front door's metrics, through swift-metrics (`cpis front-door` exports them for Prometheus
/// at `/metrics`). Every series is made at start, so each shows from the first scrape.
final class FrontDoorMetrics: Sendable {
    /// The answers the front door gives, by SMSP response code or fault.
    static let answers = ["SMSP-0000", "CPIS-0001", "SMSP-0001", "SMSP-0002", "SMSP-0003", "SMSP-0004", "SMSP-0005",
                          "SMSP-9999", "CPIS-9999", "client-fault"]

    private let requests: [String: Counter]
    /// By answer too: a slow SMSP-0004 (the patience run out) and a quick SMSP-0000 tell different stories.
    private let durations: [String: Timer]
    private let resends = Counter(label: "cpis_front_door_resends_total")
    private let refusedConnections = Counter(label: "cpis_front_door_connections_refused_total")
    private let failedHandshakes = Counter(label: "cpis_front_door_tls_handshake_failures_total")
    /// The server's own counts as last copied into the two counters above.
    private let copiedConnectionCounts = Mutex((refused: 0, failedHandshakes: 0))

    init() {
        requests = Dictionary(uniqueKeysWithValues: Self.answers.map {
            ($0, Counter(label: "cpis_front_door_requests_total", dimensions: [("answer", $0)]))
        })
        durations = Dictionary(uniqueKeysWithValues: Self.answers.map {
            ($0, Timer(label: "cpis_front_door_request_duration_seconds", dimensions: [("answer", $0)]))
        })
    }

    func answered(_ answer: FrontDoor.Answer, after elapsed: Duration) {
        let label: String
        switch answer {
        case .code(let code, let resent):
            label = code
            if resent { resends.increment() }
        case .clientFault: label = "client-fault"
        }
        // A code we do not list (an upstream's own) counts as the SMSP's software failure.
        let listed = requests[label] == nil ? "SMSP-9999" : label
        requests[listed]?.increment()
        durations[listed]?.record(duration: elapsed)
    }

    /// Brings the connection counters up to the HTTP server's counts (called before each scrape):
    /// connections refused over a limit, and handshakes failed (e.g. a client without a certificate).
    func copyConnectionCounts(refused: Int, failedHandshakes: Int) {
        let (newlyRefused, newlyFailed) = copiedConnectionCounts.withLock { copied in
            defer { copied = (refused, failedHandshakes) }
            return (refused - copied.refused, failedHandshakes - copied.failedHandshakes)
        }
        if newlyRefused > 0 { refusedConnections.increment(by: newlyRefused) }
        if newlyFailed > 0 { self.failedHandshakes.increment(by: newlyFailed) }
    }
}
