import CPISDomain
import Foundation
import Testing

/// `cpis smsp decode` and `cpis smsp request`, run as a support engineer would run them.
@Suite("cpis smsp subcommands")
struct SMSPCommandTests {
    static let templates = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appending(path: "../shared/nhs/tkw-cpis-smsp-simulator/response_templates")
        .standardizedFileURL
    static let templatesPresent = FileManager.default.fileExists(atPath: templates.path)

    @Test("decode prints the contract's result JSON for a captured success response",
          .enabled(if: templatesPresent, "../shared/nhs is absent: skipped"))
    func decodeSuccess() throws {
        let file = Self.templates.appending(path: "NHSQueryResponse_Success_REPC_MT000012GB01_SMSP-0000_01_ITK.xml")
        let run = try CPISProcess.run(["smsp", "decode", file.path])
        #expect(run.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        #expect(json["outcome"] as? String == "records-found")
        #expect((json["responseCode"] as? [String: Any])?["code"] as? String == "SMSP-0000")
        let record = try #require((json["records"] as? [[String: Any]])?.first)
        #expect(record["planType"] as? String == "unborn-child-protection-plan")
        #expect((record["localAuthority"] as? [String: Any])?["emergencyDutyPhone"] as? String == "0734577777")
        #expect(record["endDate"] as? String == "2013-09-26T08:00:00.000Z")
        #expect((record["startDate"] as? String)?.hasSuffix("Z") == true)
    }

    @Test("decode reads standard input and refuses what is not an answer, with exit status 1")
    func decodeRefuses() throws {
        let run = try CPISProcess.run(["smsp", "decode", "-"], input: "<html><body>502 Bad Gateway</body></html>")
        #expect(run.status == 1)
        #expect(run.error.contains("not a SOAP response"))
        let truncated = try CPISProcess.run(["smsp", "decode", "-"], input: "<soap:Envelope xmlns:soap='x'>")
        #expect(truncated.status == 1)
        #expect(truncated.error.contains("not well-formed"))
        let missing = try CPISProcess.run(["smsp", "decode", "/no/such/file.xml"])
        #expect(missing.status == 1)
    }

    @Test("request prints the SOAP request for a contract request body")
    func request() throws {
        let body = """
            {"nhsNumber":"943 476 5919","requester":{"organisation":{"odsCode":"RKE","name":"The Whittington"},
             "user":{"sdsUserId":"200009876204","jobRole":{"code":"R0260","displayName":"GP"},
             "name":{"given":"Paula","family":"Palmer"}}}}
            """
        let run = try CPISProcess.run(["smsp", "request", "-", "--endpoint", "https://smsp.test/cpis",
                                       "--username", "tester"], input: body)
        #expect(run.status == 0)
        #expect(run.output.contains("<wsa:To>https://smsp.test/cpis</wsa:To>"))
        #expect(run.output.contains("<wsse:Username>tester</wsse:Username>"))
        #expect(run.output.contains("<value extension=\"9434765919\"/>"))

        let invalid = try CPISProcess.run(["smsp", "request", "-"],
                                          input: body.replacingOccurrences(of: "943 476 5919", with: "943 476 5918"))
        #expect(invalid.status == 1)
        #expect(invalid.error.contains("check digit"))
    }
}

/// Runs the `cpis` executable built beside the test bundle.
enum CPISProcess {
    struct Result {
        let status: Int32
        let output: String
        let error: String
    }

    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appending(path: "cpis")
    }

    /// Runs `cpis arguments`; `environment`, when given, is its whole environment.
    static func run(_ arguments: [String], input: String? = nil, environment: [String: String]? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe(), error = Pipe(), standardInput = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = standardInput
        try process.run()
        if let input { standardInput.fileHandleForWriting.write(Data(input.utf8)) }
        try standardInput.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                      error: String(decoding: err, as: UTF8.self))
    }
}
