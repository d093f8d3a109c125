import ArgumentParser
import CPISDomain
import Dispatch
import Foundation
import HTTPTransport
import Logging
import SMSPSimulator
import Synchronization

/// Requests per second the SMSP simulator sustains over mutual TLS with keep-alive, at zero latency.
/// Server and clients share this machine's cores, so the figure is a floor.
struct SimulatorBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulator",
        abstract: "Lookups per second through the SMSP simulator over mutual TLS (keep-alive), with latency percentiles."
    )

    @Option(help: "Concurrent client connections.")
    var connections = 8

    @Option(help: "How long to run, in seconds.")
    var seconds = 10.0

    @OptionGroup var simulatorOptions: SimulatorOptions

    func run() throws {
        var logger = Logger(label: "bench.simulator")
        logger.logLevel = .error
        let server = try simulatorOptions.startServer(logger: logger)
        defer { server.shutdown() }

        let client = try HTTPClient(tls: .client(caFile: "\(simulatorOptions.certificates)/ca.pem",
                                                 certificateFile: "\(simulatorOptions.certificates)/client.pem",
                                                 keyFile: "\(simulatorOptions.certificates)/client.key"), logger: logger)
        defer { client.shutdown() }
        let url = URL(string: "https://localhost:\(server.port)")!
        let builder = SMSPRequestBuilder(identity: SMSPIdentity(endpoint: "https://localhost/smsp/cpis", username: "bench"))
        let requester = Requester(organisation: Organisation(odsCode: "RKE", name: "The Whittington Hospital"),
                                  author: .user(UserAuthor(sdsUserId: "200009876204",
                                                           jobRole: JobRole(code: "R0260", displayName: "GP"),
                                                           name: PersonName(family: "Palmer"))))
        let numbers = try ["9990000018", "9990000042", "9434765919", "8888888888"].map { try NHSNumber($0) }
        let latencies = Mutex<[Double]>([])
        let errors = Atomic<Int>(0)
        let deadline = ContinuousClock.now + .seconds(seconds)
        let started = ContinuousClock.now
        let processor = ProcessInfo.processInfo
        let cpuBefore = Self.cpuSeconds()
        // One thread per connection (concurrentPerform would run only one per core).
        let done = DispatchGroup()
        for index in 0..<connections {
            done.enter()
            Thread {
                var own: [Double] = []
                var count = index
                while ContinuousClock.now < deadline {
                    count += 1
                    do {
                        let soap = try builder.build(nhsNumber: numbers[count % numbers.count], requester: requester)
                        let began = ContinuousClock.now
                        let response = try client.execute(HTTPRequest(
                            method: "POST", target: "/smsp/cpis",
                            headers: ["Content-Type": "text/xml; charset=utf-8", "SOAPAction": soap.soapAction],
                            body: Array(soap.body.utf8)), url: url, timeout: .seconds(10))
                        let elapsed = ContinuousClock.now - began
                        if response.status == 200 { own.append(elapsed.milliseconds) } else { errors.add(1, ordering: .relaxed) }
                    } catch {
                        errors.add(1, ordering: .relaxed)
                    }
                }
                latencies.withLock { $0 += own }
                done.leave()
            }.start()
        }
        done.wait()
        let wall = (ContinuousClock.now - started).milliseconds / 1000
        let sorted = latencies.withLock { $0.sorted() }
        guard !sorted.isEmpty else { throw ValidationError("no request succeeded") }
        func percentile(_ fraction: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))] }
        print(String(format: """
            simulator over mutual TLS, keep-alive, %d connections, %.1f s, %d cores
              requests: %d ok, %d failed (connections accepted by the server: %d)
              throughput: %.0f requests/s
              latency: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms
              CPU (client and server together): %.0f µs per request
            """, connections, wall, processor.activeProcessorCount, sorted.count, errors.load(ordering: .relaxed),
            server.acceptedConnections, Double(sorted.count) / wall, percentile(0.5), percentile(0.9),
            percentile(0.99), sorted[sorted.count - 1], (Self.cpuSeconds() - cpuBefore) / Double(sorted.count) * 1e6))
    }

    private static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}
