import ArgumentParser
import CPISDomain
import Foundation
import HTTPTransport

/// `cpis smsp ...`: tools for the support engineer who has to answer "what did the SMSP actually say?".
struct SMSP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smsp",
        abstract: "Decode SMSP responses, show the SOAP requests the worker would send, and query an SMSP endpoint.",
        subcommands: [Decode.self, Request.self, Query.self]
    )

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a captured SMSP response (SOAP, or a bare Distribution Envelope) and print it as the contract's result JSON.",
            discussion: "Exits 1, saying what is wrong, when the input is not an SMSP CP-IS answer (a SOAP fault, an HTML error page, truncated XML, another payload)."
        )

        @Argument(help: "The response file, or - for standard input.")
        var file: String

        func run() throws {
            try SMSP.printDecoded(try readInput(file))
        }
    }

    struct Query: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send one CP-IS query over mutual TLS, as a care provider's SMSP client would, and print the answer.",
            discussion: """
                For trying the front door (cpis front-door, https://localhost:9443/smsp/cpis on local defaults) or any \
                SMSP endpoint. Prints the answer as the contract's result JSON (--raw: the SOAP as it came); exits 1 on \
                a SOAP fault, saying what it names.
                """
        )

        @Option(help: "The SMSP endpoint.")
        var endpoint = "https://localhost:9443/smsp/cpis"

        @Option(name: .customLong("nhs-number"), help: "The child's NHS number.")
        var nhsNumber = "999 000 0018"

        @Option(help: "The asking organisation's ODS code (author, audit identity and sender address).")
        var ods = "RKE"

        @Option(name: .customLong("tracking-id"), help: "The ITK tracking id (give an earlier one to resend that message).")
        var trackingID: String?

        @Option(help: "The CA the endpoint's certificate chains to.")
        var ca = ".local/certs/ca.pem"

        @Option(help: "Our client certificate (PEM).")
        var certificate = ".local/certs/client.pem"

        @Option(help: "Its private key.")
        var key = ".local/certs/client.key"

        @Flag(help: "Print the SOAP answer as it came.")
        var raw = false

        func run() throws {
            guard let url = URL(string: endpoint), url.scheme == "https",
                  let (server, target) = try? HTTPEndpoint.serverAndTarget(of: url) else {
                throw CommandFailure("\(endpoint) is not an https URL")
            }
            var ids = SMSPMessageIDs.random()
            if let trackingID { ids.trackingID = trackingID }
            let requester = Requester(
                organisation: Organisation(odsCode: ods, name: "cpis smsp query (\(ods))"),
                author: .user(UserAuthor(sdsUserId: "999999999999",
                                         jobRole: JobRole(code: "R0260", displayName: "General Medical Practitioner"),
                                         name: PersonName(given: "Local", family: "Tester"))))
            do {
                let request = try SMSPRequestBuilder(identity: SMSPIdentity(endpoint: endpoint, username: "cpis-smsp-query",
                                                                            senderODSCode: ods))
                    .build(nhsNumber: try NHSNumber(nhsNumber), requester: requester, ids: ids)
                let client = try HTTPClient(tls: .client(caFile: ca, certificateFile: certificate, keyFile: key))
                defer { client.shutdown() }
                let response = try client.execute(HTTPRequest(
                    method: "POST", target: target,
                    headers: ["Content-Type": "text/xml; charset=utf-8", "SOAPAction": request.soapAction],
                    body: Array(request.body.utf8)), at: server, timeout: .seconds(60))
                FileHandle.standardError.write(Data("tracking id \(ids.trackingID), HTTP \(response.status)\n".utf8))
                if raw { print(String(decoding: response.body, as: UTF8.self)) } else { try SMSP.printDecoded(response.body) }
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                throw CommandFailure("\(error)")
            }
        }
    }

    /// Prints an SMSP answer as the contract's result JSON.
    static func printDecoded(_ bytes: [UInt8]) throws {
        let response: SMSPResponse
        do {
            response = try SMSPResponseReader.read(bytes)
        } catch {
            throw CommandFailure("\(error)")
        }
        printResult(of: response.answer, relatesTo: response.relatesTo)
    }

    /// Prints an answer (the SMSP's or Spine's) as the contract's result JSON.
    static func printResult(of answer: CPISAnswer, relatesTo: String?) {
        let childNumber = answer.plans.lazy.compactMap { plan -> String? in
            if case .child(let nhsNumber, _, _) = plan.subject { nhsNumber } else { nil }
        }.first
        let result = LookupResult(requestId: relatesTo ?? "(unknown: decoded from a capture)",
                                  nhsNumber: childNumber, answer: answer, attempts: 1,
                                  completedAt: answer.effectiveTime ?? Date())
        print(String(decoding: result.json(pretty: true), as: UTF8.self))
    }

    struct Request: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a lookup request body (the contract's JSON) and print the SOAP request that would be sent."
        )

        @Argument(help: "The request body file, or - for standard input.")
        var file: String

        @OptionGroup var identity: SMSPIdentityOptions

        func run() throws {
            let bytes = try readInput(file)
            do {
                let lookup = try LookupRequest(json: bytes)
                let request = try SMSPRequestBuilder(identity: identity.identity)
                    .build(nhsNumber: lookup.nhsNumber, requester: lookup.requester)
                print(request.body)
            } catch {
                throw CommandFailure("\(error)")
            }
        }
    }
}

/// This deployment's identity towards the SMSP. Each option falls back to an environment variable.
struct SMSPIdentityOptions: ParsableArguments {
    @Option(help: "SMSP endpoint URL (env CPIS_SMSP_ENDPOINT).")
    var endpoint: String?

    @Option(help: "WS-Security username issued by the SMSP provider (env CPIS_SMSP_USERNAME).")
    var username: String?

    @Option(name: .customLong("sender-ods"), help: "ODS code of the organisation running this deployment (env CPIS_SMSP_SENDER_ODS).")
    var senderODSCode: String?

    @Option(help: "This deployment's ASID, for unattended queries that name none (env CPIS_SMSP_ASID).")
    var asid: String?

    @Option(name: .customLong("profile-id"), help: "Manifest profile id (env CPIS_SMSP_PROFILE_ID).")
    var profileId: String?

    var identity: SMSPIdentity {
        let environment = ProcessInfo.processInfo.environment
        var identity = SMSPIdentity(
            endpoint: endpoint ?? environment["CPIS_SMSP_ENDPOINT"] ?? "https://localhost:8443/smsp/cpis",
            username: username ?? environment["CPIS_SMSP_USERNAME"] ?? "cpis-local",
            senderODSCode: senderODSCode ?? environment["CPIS_SMSP_SENDER_ODS"],
            asid: asid ?? environment["CPIS_SMSP_ASID"])
        if let profileId = profileId ?? environment["CPIS_SMSP_PROFILE_ID"] { identity.profileId = profileId }
        return identity
    }
}

/// A failure reported as one line on standard error, with exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The bytes of `path`, or of standard input for "-".
func readInput(_ path: String) throws -> [UInt8] {
    if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CommandFailure("cannot read \(path)")
    }
    return Array(data)
}
