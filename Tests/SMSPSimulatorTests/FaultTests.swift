import CPISDomain
import Foundation
import SMSPSimulator
import Testing

@Suite("SMSP simulator: faults and latency")
struct FaultTests {
    @Test("each fault, by trigger number, looks to the worker as the real failure would")
    func faultsByTrigger() throws {
        let number = "9990000018"
        for fault in SimulatorFault.allCases {
            let simulator = try Fixture.simulator(behaviour: SimulatorBehaviour(faultTriggers: [number: fault]))
            let reply = simulator.send(try Fixture.request(number))
            switch (fault, reply) {
            case (.http503, .respond(let status, _, _)):
                #expect(status == 503)
            case (.soapServerFault, .respond(let status, _, let body)):
                #expect(status == 500)
                let error = #expect(throws: SMSPResponseError.self) { try SMSPResponseReader.read(Array(body.utf8)) }
                #expect(error?.code == .soapFault)
                #expect(error?.isTransient == true)
            case (.noResponse, .noResponse):
                break
            case (.resetMidBody, .resetMidBody(let status, _, let body)):
                #expect(status == 200)
                #expect(try SMSPResponseReader.read(Array(body.utf8)).answer.responseCode.code == "SMSP-0000")
            case (.invalidXML, .respond(let status, _, let body)):
                #expect(status == 200)
                let error = #expect(throws: SMSPResponseError.self) { try SMSPResponseReader.read(Array(body.utf8)) }
                #expect(error?.code == .unreadable)
            case (.wrongPayload, .respond(let status, _, let body)):
                #expect(status == 200)
                let error = #expect(throws: SMSPResponseError.self) { try SMSPResponseReader.read(Array(body.utf8)) }
                #expect(error?.code == .wrongPayload)
            case (.crossedRecord, .respond(let status, _, let body)), (.crossedUnbornRecord, .respond(let status, _, let body)):
                #expect(status == 200)
                let answer = try SMSPResponseReader.read(Array(body.utf8)).answer
                #expect(answer.responseCode.code == "SMSP-0000")
                #expect(!answer.plans.isEmpty)
            case (.wrongRelatesTo, .respond(let status, _, let body)):
                #expect(status == 200)
                #expect(try SMSPResponseReader.read(Array(body.utf8)).relatesTo?.hasPrefix("uuid:") == true)
            default:
                Issue.record("\(fault) gave \(reply)")
            }
            // Other numbers are unaffected.
            #expect(try simulator.answer(try Fixture.request("9990000026")).responseCode.code == "SMSP-0000")
        }
    }

    @Test("a scripted sequence for one NHS number: fault, fault, then the answer")
    func sequence() throws {
        let simulator = try Fixture.simulator()
        simulator.script(nhsNumber: "9990000018", steps: [.fault(.soapServerFault), .fault(.http503), .answer])
        guard case .respond(500, _, _) = simulator.send(try Fixture.request("9990000018")) else {
            Issue.record("first step should be a server fault")
            return
        }
        guard case .respond(503, _, _) = simulator.send(try Fixture.request("9990000018")) else {
            Issue.record("second step should be a 503")
            return
        }
        #expect(try simulator.answer(try Fixture.request("9990000018")).responseCode.code == "SMSP-0000")
        #expect(try simulator.answer(try Fixture.request("9990000018")).responseCode.code == "SMSP-0000")
        #expect(simulator.notifications(nhsNumber: "9990000018").count == 2)
    }

    @Test("faults by rate occur at about that rate")
    func faultRate() throws {
        let simulator = try Fixture.simulator(behaviour: SimulatorBehaviour(faultRates: [.http503: 0.3]))
        var failures = 0
        for _ in 0..<400 {
            if case .respond(503, _, _) = simulator.send(try Fixture.request("9434765919")) { failures += 1 }
        }
        #expect((80...160).contains(failures), "\(failures) of 400 at a 30 % rate")
    }

    @Test("latency: fixed, or a distribution with the configured median and tail")
    func latency() {
        var generator = SystemRandomNumberGenerator()
        #expect(SimulatorLatency.fixed(.milliseconds(40)).sample(using: &generator) == .milliseconds(40))
        #expect(SimulatorLatency.none.sample(using: &generator) == .zero)
        let distribution = SimulatorLatency.distribution(median: .milliseconds(100), p99: .milliseconds(800))
        let samples = (0..<20_000).map { _ in distribution.sample(using: &generator) }.sorted()
        let median = samples[samples.count / 2], p99 = samples[samples.count * 99 / 100]
        #expect(median > .milliseconds(90) && median < .milliseconds(110), "median \(median)")
        #expect(p99 > .milliseconds(650) && p99 < .milliseconds(1000), "p99 \(p99)")
    }
}
