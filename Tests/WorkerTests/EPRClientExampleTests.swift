import AMQPClient
import TestSupport
import Foundation
import Testing
@testable import Worker

/// `examples/epr_client.py`, the EPR client integrators copy, run as they would run it: against the
/// broker, the SMSP simulator and a real `cpis worker` process.
@Suite("the EPR client example (examples/epr_client.py)", .serialized, .timeLimit(.minutes(3)))
struct EPRClientExampleTests {
    static let script = WorkerRig.packageRoot.appending(path: "examples/epr_client.py").path

    /// Runs the client; its exit status and everything it printed.
    static func client(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try Python.run([script] + arguments, mergingErrors: true)
    }

    @Test("it asks a real worker over TCP and over mutual TLS and prints the outcome, the plan and the local authority's phones; without a worker it says there is no answer")
    func clientAgainstTheWorker() async throws {
        let (status, _) = try Python.run(["-c", "import pika"])
        try #require(status == 0, "python3 has no pika: run Deploy/install-dependencies.sh")
        let rig = try await WorkerRig(startWorker: false)
        try await rig.topology.declare(on: rig.epr)
        let tcp = ["--amqp-url", BrokerEnvironment.amqpURL, "--timeout", "30"]
        let triage = ["--queue", rig.topology.triage]

        // No worker on a queue: no answer, said so. No such queue: said so.
        let unattended = "\(rig.topology.triage).unattended"
        try await rig.epr.declare(AMQPQueue.quorum(unattended))
        let silent = try Self.client(["--amqp-url", BrokerEnvironment.amqpURL, "--queue", unattended, "--timeout", "1",
                                      "9990000018"])
        #expect(silent.status == 1)
        #expect(silent.output.contains("no answer within 1 s"), "\(silent.output)")
        try await rig.epr.deleteQueue(unattended)
        let nowhere = try Self.client(tcp + ["--queue", "\(rig.topology.triage).missing", "9990000018"])
        #expect(nowhere.status == 1)
        #expect(nowhere.output.contains("has no queue"), "\(nowhere.output)")

        let worker = try WorkerProcess(rig)
        let found = try Self.client(tcp + triage + ["9990000018"])
        #expect(found.status == 0, "\(found.output)")
        for text in ["records-found", "child protection plan", "Amy Carter", "local authority: Islington (V145)",
                     "02075272000", "02072260992", "The Whittington Hospital"] {
            #expect(found.output.contains(text), "no '\(text)' in: \(found.output)")
        }

        let directory = BrokerEnvironment.tlsDirectory
        let overTLS = try Self.client(["--amqp-url", BrokerEnvironment.amqpsURL, "--tls-ca", "\(directory)/ca.pem",
                                       "--tls-cert", "\(directory)/client.pem", "--tls-key", "\(directory)/client.key",
                                       "--timeout", "30"] + triage + ["999 000 0034"])
        #expect(overTLS.status == 0, "\(overTLS.output)")
        for text in ["records-found", "unborn child", "Louise Doyle", "local authority: Manchester (V315)", "01612558250"] {
            #expect(overTLS.output.contains(text), "no '\(text)' in: \(overTLS.output)")
        }

        let rejected = try Self.client(tcp + triage + ["999 000 0019"])
        #expect(rejected.status == 2)
        #expect(rejected.output.contains("rejected") && rejected.output.contains("check digit"), "\(rejected.output)")

        worker.kill(signal: SIGTERM)
        #expect(worker.waitForExit() == 0)
        await rig.stop()
    }
}
