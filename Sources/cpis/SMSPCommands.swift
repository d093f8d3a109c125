import ArgumentParser
import CPISDomain
import Foundation

/// `cpis smsp ...`: tools for the support engineer who has to answer "what did the SMSP actually say?".
struct SMSP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smsp",
        abstract: "Decode SMSP responses and show the SOAP requests the worker would send.",
        subcommands: [Decode.self, Request.self]
    )

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a captured SMSP response (SOAP, or a bare Distribution Envelope) and print it as the contract's result JSON.",
            discussion: "Exits 1, saying what is wrong, when the input is not an SMSP CP-IS answer (a SOAP fault, an HTML error page, truncated XML, another payload)."
        )

        @Argument(help: "The response file, or - for standard input.")
        var file: String

        func run() throws {
            let bytes = try readInput(file)
            let response: SMSPResponse
            do {
                response = try SMSPResponseReader.read(bytes)
            } catch {
                throw CommandFailure("\(error)")
            }
            let answer = response.answer
            let childNumber = answer.plans.lazy.compactMap { plan -> String? in
                if case .child(let nhsNumber, _, _) = plan.subject { nhsNumber } else { nil }
            }.first
            let result = LookupResult(requestId: response.relatesTo ?? "(unknown: decoded from a capture)",
                                      nhsNumber: childNumber, answer: answer, attempts: 1,
                                      completedAt: answer.effectiveTime ?? Date())
            print(String(decoding: result.json(pretty: true), as: UTF8.self))
        }
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
