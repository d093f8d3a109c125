import CPISDomain
import Foundation
import SMSPSimulator
import Testing

@Suite("SMSP simulator: answers, history, notifications")
struct SMSPSimulatorAnswerTests {
    @Test("each trigger number answers exactly as the NHS test tool's template for its code",
          .enabled(if: Fixture.templatesPresent, "../shared/nhs is absent: skipped"))
    func triggerNumbers() throws {
        let simulator = try Fixture.simulator()
        let triggers = ["1111111111": "SMSP-0001", "2222222222": "SMSP-0002", "3333333333": "SMSP-0003",
                        "4444444444": "SMSP-0004", "5555555555": "SMSP-0005", "6666666666": "SMSP-9999",
                        "7777777777": "CPIS-9999", "8888888888": "CPIS-0001"]
        let templates = try FileManager.default.contentsOfDirectory(at: Fixture.templates, includingPropertiesForKeys: nil)
        for (number, code) in triggers {
            let template = try #require(templates.first { $0.lastPathComponent.contains("_\(code)_") })
            let expected = try SMSPResponseReader.read(Array(try Data(contentsOf: template))).answer
            let answer = try simulator.answer(try Fixture.request(number))
            #expect(answer.responseCode == expected.responseCode, "\(number)")
            #expect(answer.totalAccessRecords == expected.totalAccessRecords)
            #expect(answer.totalChildRecords == expected.totalChildRecords)
            #expect(answer.plans == expected.plans)
            #expect(answer.accessHistory == expected.accessHistory)
        }
        #expect(simulator.notifications().isEmpty)
    }

    @Test("a dataset patient's full answer, with the current query in its history")
    func datasetPatient() throws {
        let clock = TestClock()
        let simulator = try Fixture.simulator(clock: clock)
        let answer = try simulator.answer(try Fixture.request("999 000 0042"))
        #expect(answer.responseCode.code == "SMSP-0000")
        #expect(answer.plans.map(\.type) == [.lookedAfterChild, .childProtectionPlan, .lookedAfterChild])
        #expect(answer.plans.map(\.localAuthority.odsCode) == ["V102", "V145", "V145"])
        #expect(answer.plans[1].end == nil)
        #expect(answer.plans[1].localAuthority.emergencyDutyPhone == "02072260992")
        #expect(answer.plans[0].subject == .child(nhsNumber: "9990000042", name: PersonName(given: "Chloe", family: "Nowak"),
                                                  birthDate: CalendarDate(year: 2016, month: 11, day: 30)))
        #expect(answer.totalChildRecords == 3)
        #expect(answer.accessHistory.count == 1)
        #expect(answer.accessHistory.first?.organisation == Fixture.whittington)
        #expect(abs((answer.accessHistory.first?.accessedAt ?? .distantPast).timeIntervalSince(clock.now)) < 1)
    }

    @Test("an unborn child is identified through the mother")
    func unbornChild() throws {
        let answer = try Fixture.simulator().answer(try Fixture.request("9990000034"))
        guard case .unbornChild(let mother) = answer.plans.first?.subject else {
            Issue.record("expected an unborn child, got \(String(describing: answer.plans.first?.subject))")
            return
        }
        #expect(mother.name == PersonName(given: "Louise", family: "Doyle"))
        #expect(answer.plans.first?.type == .unbornChildProtectionPlan)
    }

    @Test("any other valid number is no record; an invalid one is SMSP-0001")
    func otherNumbers() throws {
        let simulator = try Fixture.simulator()
        #expect(try simulator.answer(try Fixture.request("9434765919")).responseCode.code == "CPIS-0001")
        let valid = try Fixture.request("9434765919")
        let invalid = valid.body.replacingOccurrences(of: "extension=\"9434765919\"", with: "extension=\"9434765918\"")
        #expect(try simulator.answer(body: invalid).responseCode.code == "SMSP-0001")
    }

    @Test("history keeps the 25 most recent accesses, most recent first")
    func historyLimit() throws {
        let clock = TestClock()
        let simulator = try Fixture.simulator(clock: clock)
        var last: CPISAnswer?
        for index in 0..<30 {
            clock.advance(by: 60)
            last = try simulator.answer(try Fixture.request("9990000018", requester: Fixture.user("2000098762\(10 + index)"),
                                                            at: clock.now))
        }
        let history = try #require(last?.accessHistory)
        #expect(history.count == 25)
        let users = history.compactMap { access -> String? in
            if case .user(_, _, let id) = access.author { id } else { nil }
        }
        #expect(users.first == "200009876239")  // the latest
        #expect(users.last == "200009876215")   // the 25th latest
        #expect(history.map(\.accessedAt) == history.map(\.accessedAt).sorted(by: >))
    }

    @Test("the same author is listed once per 24 hours, the first view standing")
    func sameAuthorOncePerDay() throws {
        let clock = TestClock()
        let simulator = try Fixture.simulator(clock: clock)
        let first = try simulator.answer(try Fixture.request("9990000018", at: clock.now))
        let firstTime = try #require(first.accessHistory.first?.accessedAt)
        clock.advance(by: 3600)
        let again = try simulator.answer(try Fixture.request("9990000018", at: clock.now))
        #expect(again.accessHistory.count == 1)
        #expect(again.accessHistory.first?.accessedAt == firstTime)
        clock.advance(by: 1800)
        let colleague = try simulator.answer(try Fixture.request("9990000018", requester: Fixture.user("200009876299"),
                                                                 at: clock.now))
        #expect(colleague.accessHistory.count == 2)
        clock.advance(by: 24 * 3600)
        let nextDay = try simulator.answer(try Fixture.request("9990000018", at: clock.now))
        #expect(nextDay.accessHistory.count == 3)
        // Every query still notifies the local authority, seen before or not.
        #expect(simulator.notifications(nhsNumber: "9990000018").count == 4)
    }

    @Test("a lookup notifies each responsible local authority exactly once")
    func notifications() throws {
        let simulator = try Fixture.simulator()
        let request = try Fixture.request("9990000042")
        _ = try simulator.answer(request)
        let notifications = simulator.notifications(nhsNumber: "9990000042")
        #expect(notifications.map(\.localAuthority.odsCode).sorted() == ["V102", "V145"])
        #expect(notifications.allSatisfy { $0.messageID == request.messageID })
        #expect(simulator.notifications(localAuthority: "V145").count == 1)
        #expect(simulator.notifications(localAuthority: "V315").isEmpty)
        _ = try simulator.answer(try Fixture.request("8888888888"))
        _ = try simulator.answer(try Fixture.request("9434765919"))
        #expect(simulator.notifications().count == 2)
        simulator.reset()
        #expect(simulator.notifications().isEmpty)
    }

    @Test("the shipped dataset covers every plan type, open-ended plans, unborn children, several plans and LAs")
    func datasetCoverage() throws {
        let dataset = try SimulatorDataset(contentsOf: Fixture.datasetURL)
        let plans = dataset.plansByNHSNumber.values.flatMap { $0 }
        #expect(Set(plans.map(\.type)) == Set(PlanType.allCases))
        #expect(plans.contains { $0.end == nil })
        #expect(plans.contains { if case .unbornChild = $0.subject { true } else { false } })
        #expect(dataset.plansByNHSNumber.values.contains { $0.count > 1 })
        #expect(Set(plans.map(\.localAuthority.odsCode)).count >= 3)
        #expect(dataset.plansByNHSNumber.keys.allSatisfy { $0.hasPrefix("999") })
    }

    @Test("a dataset with a real-looking NHS number or an unknown local authority is refused")
    func datasetValidation() {
        let real = """
            localAuthorities: { V145: { name: Islington } }
            patients:
              - { nhsNumber: "9434765919", child: { given: A }, plans: [ { type: child-protection-plan, localAuthority: V145, start: "2026-01-01 09:00" } ] }
            """
        #expect(throws: SimulatorConfigurationError.self) { try SimulatorDataset(yaml: real) }
        let unknown = real.replacingOccurrences(of: "9434765919", with: "9990000018")
            .replacingOccurrences(of: "localAuthority: V145", with: "localAuthority: V999")
        let error = #expect(throws: SimulatorConfigurationError.self) { try SimulatorDataset(yaml: unknown) }
        #expect(error?.description.contains("V999") == true)
    }
}

/// The simulator answering as Spine's CP-IS.
@Suite("SMSP simulator as Spine")
struct SpineSimulationTests {
    static let simulator = SMSPSimulator(dataset: try! SimulatorDataset(contentsOf: Fixture.packageRoot.appending(
        path: "Config/simulator-dataset.yaml")))

    static func query(_ nhsNumber: String, identity: SpineIdentity = SpineIdentity(
        endpoint: "https://spine.example/sync-service", asid: "200000000123", spineASID: "999999999999")) throws -> SpineRequest {
        try SpineRequestBuilder(identity: identity).build(nhsNumber: try NHSNumber(nhsNumber), requester: Requester(
            organisation: Organisation(odsCode: "RKE", name: "The Whittington Hospital"),
            author: .user(UserAuthor(sdsUserId: "200009876204", jobRole: JobRole(code: "R0260", displayName: "GP"),
                                     name: PersonName(given: "Paula", family: "Palmer")))))
    }

    static func answer(_ text: String, soapAction: String? = SpineConstants.queryAction) -> (Int, SpineResponse?) {
        guard case .respond(let status, _, let body) = simulator.handleSpine(soapAction: soapAction, body: Array(text.utf8)) else {
            return (0, nil)
        }
        return (status, try? SpineResponseReader.read(Array(body.utf8)))
    }

    @Test("a dataset patient gets records; any other number is not found; both tied to the query")
    func answers() throws {
        let request = try Self.query("9990000018")
        let (status, response) = Self.answer(request.body)
        #expect(status == 200)
        guard case .records(let answer)? = response?.answer else { Issue.record("\(String(describing: response))"); return }
        #expect(answer.plans.count == 1)
        #expect(response?.mismatch(with: request) == nil)
        let other = try Self.query("9434765919")
        guard case .queryActFailed(let reasons)? = Self.answer(other.body).1?.answer else { Issue.record("not QUQI"); return }
        #expect(reasons.map(\.code).contains("NHSNCC002"))
    }

    @Test("Spine's header rules and SOAPAction: a malformed request is refused with Spine's reason")
    func refused() throws {
        let request = try Self.query("9990000018")
        let withoutTo = request.body.replacingOccurrences(of: #"<wsa:To>https://spine.example/sync-service</wsa:To>"#, with: "")
        guard case .fault(let code, _, let errors)? = Self.answer(withoutTo).1?.answer else { Issue.record("no fault"); return }
        #expect(code == "Client")
        #expect(errors.first?.description.contains("SOAP_TO_ERROR") == true)
        guard case .fault(_, _, let soapActionErrors)? = Self.answer(request.body, soapAction: "urn:nhs:names:services:pds").1?.answer
        else { Issue.record("no fault"); return }
        #expect(soapActionErrors.first?.errorCode == "101")
        let again = try Self.query("9990000018")
        _ = Self.answer(again.body)
        guard case .fault(_, _, let reuseErrors)? = Self.answer(again.body).1?.answer else { Issue.record("no fault"); return }
        #expect(reuseErrors.first?.description.contains("already used") == true, "a MessageID is never reused")
        let noAuthorID = request.body.replacingOccurrences(of: "extension=\"200009876204\"", with: "extension=\"\"")
        guard case .acknowledgement("AE", let reasons)? = Self.answer(noAuthorID).1?.answer else { Issue.record("no MCCI"); return }
        #expect(reasons.contains { $0.code == "1712" })
    }
}
