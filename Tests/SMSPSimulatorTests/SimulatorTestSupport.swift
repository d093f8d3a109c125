import CPISDomain
import Foundation
import SMSPSimulator
import Synchronization

enum Fixture {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let datasetURL = packageRoot.appending(path: "Config/simulator-dataset.yaml")
    static let templates = packageRoot.appending(path: "../shared/nhs/tkw-cpis-smsp-simulator/response_templates")
        .standardizedFileURL
    static var templatesPresent: Bool { FileManager.default.fileExists(atPath: templates.path) }

    static let endpoint = "https://localhost:8443/smsp/cpis"
    static let builder = SMSPRequestBuilder(identity: SMSPIdentity(endpoint: endpoint, username: "cpis-test"))

    static let whittington = Organisation(odsCode: "RKE", name: "The Whittington Hospital")
    static func user(_ sdsUserId: String = "200009876204", organisation: Organisation = whittington) -> Requester {
        Requester(organisation: organisation, author: .user(UserAuthor(
            sdsUserId: sdsUserId, jobRole: JobRole(code: "R0260", displayName: "General Medical Practitioner"),
            name: PersonName(prefix: "Dr", given: "Paula", family: "Palmer"))))
    }

    static func request(_ nhsNumber: String, requester: Requester = user(), at time: Date = Date()) throws -> SMSPRequest {
        try builder.build(nhsNumber: try NHSNumber(nhsNumber), requester: requester, at: time)
    }

    static func simulator(behaviour: SimulatorBehaviour = SimulatorBehaviour(), clock: TestClock = TestClock())
        throws -> SMSPSimulator
    {
        SMSPSimulator(dataset: try SimulatorDataset(contentsOf: datasetURL), behaviour: behaviour,
                      expectedTo: endpoint, now: { clock.now })
    }
}

/// A clock the test moves by hand.
final class TestClock: Sendable {
    private let time = Mutex(Date())
    var now: Date { time.withLock { $0 } }
    func advance(by interval: TimeInterval) { time.withLock { $0 = $0.addingTimeInterval(interval) } }
}

extension SMSPSimulator {
    /// Sends a built request as the worker would, returning the raw reply.
    func send(_ request: SMSPRequest, soapAction: String? = SMSPConstants.requestService) -> SimulatorReply {
        send(body: request.body, soapAction: soapAction)
    }

    func send(body: String, soapAction: String? = SMSPConstants.requestService) -> SimulatorReply {
        handle(soapAction: soapAction, body: Array(body.utf8))
    }

    /// Sends and reads the answer through the project's own reader.
    func answer(_ request: SMSPRequest) throws -> CPISAnswer {
        try answer(body: request.body)
    }

    func answer(body request: String) throws -> CPISAnswer {
        guard case .respond(let status, _, let body) = send(body: request) else {
            throw SimulatorTestError("no response")
        }
        guard status == 200 else { throw SimulatorTestError("HTTP \(status): \(body)") }
        return try SMSPResponseReader.read(Array(body.utf8)).answer
    }
}

struct SimulatorTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
