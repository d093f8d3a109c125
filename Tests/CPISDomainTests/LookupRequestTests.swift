import CPISDomain
import Foundation
import Testing

@Suite("lookup request bodies")
struct LookupRequestTests {
    static let userBody = """
        {
          "nhsNumber": "943 476 5919",
          "requester": {
            "organisation": { "odsCode": "RKE", "name": "The Whittington Hospital" },
            "user": {
              "sdsUserId": "200009876204",
              "sdsRoleProfileId": "100077650987",
              "jobRole": { "code": "R0260", "displayName": "General Medical Practitioner" },
              "name": { "prefix": "Dr", "given": "Paula", "family": "Palmer" }
            }
          },
          "someFutureField": 42
        }
        """

    @Test("reads the contract's example, ignoring unknown fields")
    func readsUserRequest() throws {
        let request = try LookupRequest(json: Array(Self.userBody.utf8))
        #expect(request.nhsNumber.digits == "9434765919")
        #expect(request.requester.organisation == Organisation(odsCode: "RKE", name: "The Whittington Hospital"))
        guard case .user(let user) = request.requester.author else {
            Issue.record("expected a user author")
            return
        }
        #expect(user.sdsUserId == "200009876204")
        #expect(user.sdsRoleProfileId == "100077650987")
        #expect(user.jobRole == JobRole(code: "R0260", displayName: "General Medical Practitioner"))
        #expect(user.name.displayName == "Dr Paula Palmer")
    }

    @Test("reads a system requester and round-trips through json()")
    func readsSystemRequest() throws {
        let body = """
            {"nhsNumber":"9434765919","requester":{"organisation":{"odsCode":"RKE","name":"Whittington"},
             "system":{"asid":"200000000123","nominatedPerson":{"jobRole":{"code":"R0260","displayName":"GP"},
             "name":{"given":"Paula","family":"Palmer"}}}}}
            """
        let request = try LookupRequest(json: Array(body.utf8))
        guard case .system(let system) = request.requester.author else {
            Issue.record("expected a system author")
            return
        }
        #expect(system.asid == "200000000123")
        #expect(try LookupRequest(json: request.json()) == request)
    }

    @Test("explains what is wrong with a bad body", arguments: [
        ("not json", "not valid JSON"),
        ("[1,2]", "must be a JSON object"),
        ("{}", "nhsNumber is missing"),
        (#"{"nhsNumber": 9434765919, "requester": {}}"#, "nhsNumber must be a string"),
        (#"{"nhsNumber": "9434765918", "requester": {"organisation": {"odsCode": "A", "name": "B"}, "user": {"sdsUserId": "1", "jobRole": {"code": "R", "displayName": "D"}, "name": {}}}}"#,
         "check digit"),
        (#"{"nhsNumber": "9434765919"}"#, "requester is missing"),
        (#"{"nhsNumber": "9434765919", "requester": {"organisation": {"name": "B"}}}"#,
         "requester.organisation.odsCode is missing"),
        (#"{"nhsNumber": "9434765919", "requester": {"organisation": {"odsCode": "A", "name": "B"}}}"#,
         "either \"user\""),
        (#"{"nhsNumber": "9434765919", "requester": {"organisation": {"odsCode": "A", "name": "B"}, "user": {"sdsUserId": "1", "jobRole": {"code": "R"}, "name": {}}}}"#,
         "requester.user.jobRole.displayName is missing"),
    ])
    func explainsErrors(body: String, expected: String) {
        let error = #expect(throws: ContractError.self) { try LookupRequest(json: Array(body.utf8)) }
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
    }

    @Test("requesters missing what Spine requires are listed")
    func mandatoryFields() {
        let requester = Requester(
            organisation: Organisation(odsCode: "RKE", name: " "),
            author: .user(UserAuthor(sdsUserId: "", jobRole: JobRole(code: "R0260", displayName: ""),
                                     name: PersonName(family: "Palmer"))))
        #expect(requester.missingMandatoryFields() == [
            "requester.organisation.name", "requester.user.sdsUserId", "requester.user.jobRole.displayName",
        ])
    }
}
