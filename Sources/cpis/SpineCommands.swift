import ArgumentParser
import CPISDomain
import Foundation

/// `cpis spine ...`: the Spine twins of `cpis smsp ...`, for the support engineer holding a captured
/// Spine message.
struct Spine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spine",
        abstract: "Decode Spine's CP-IS answers and show the HL7 V3 requests the worker would send to Spine.",
        subcommands: [Decode.self, Request.self]
    )

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a captured Spine answer to QUPC_IN000006GB01 and print what it says.",
            discussion: """
                Records (REPC_IN000007GB01) are printed as the contract's result JSON; a query act failed \
                (QUQI_IN010000UK14), an application acknowledgement (MCCI_IN010000UK13), a SOAP fault or an ebXML \
                error as its kind and reasons. Exits 1, saying what is wrong, when the input is none of those.
                """
        )

        @Argument(help: "The answer file, or - for standard input.")
        var file: String

        func run() throws {
            let response: SpineResponse
            do {
                response = try SpineResponseReader.read(try readInput(file))
            } catch let error as SMSPResponseError {
                throw CommandFailure("\(error)")
            }
            switch response.answer {
            case .records(let answer):
                SMSP.printResult(of: answer, relatesTo: response.relatesTo)
            case .queryActFailed(let reasons):
                print("query act failed (QUQI_IN010000UK14), answering \(response.acknowledgedID ?? "?"):")
                reasons.forEach { print("  \($0)") }
            case .acknowledgement(let typeCode, let reasons):
                print("application acknowledgement \(typeCode) (MCCI_IN010000UK13), answering \(response.acknowledgedID ?? "?"):")
                reasons.forEach { print("  \($0)") }
            case .fault(let code, let text, let errors):
                print("SOAP \(code) fault: \(text)")
                errors.forEach { print("  \($0.errorCode) \($0.description)" + ($0.location.map { " at \($0)" } ?? "")) }
            case .messagingError(let errors):
                print("ebXML message error:")
                errors.forEach { print("  \($0.errorCode) \($0.description)") }
            }
        }
    }

    struct Request: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a lookup request body (the contract's JSON) and print the QUPC_IN000006GB01 that would be sent."
        )

        @Argument(help: "The request body file, or - for standard input.")
        var file: String

        @Option(help: "Spine's CP-IS endpoint URL (env CPIS_SPINE_ENDPOINT).")
        var endpoint: String?

        @Option(help: "Our ASID (env CPIS_SPINE_ASID).")
        var asid: String?

        @Option(name: .customLong("spine-asid"), help: "Spine CP-IS's ASID (env CPIS_SPINE_SPINE_ASID).")
        var spineASID: String?

        func run() throws {
            let environment = ProcessInfo.processInfo.environment
            let identity = SpineIdentity(
                endpoint: endpoint ?? environment["CPIS_SPINE_ENDPOINT"] ?? "https://localhost:8443/smsp/cpis",
                asid: asid ?? environment["CPIS_SPINE_ASID"] ?? "200000000123",
                spineASID: spineASID ?? environment["CPIS_SPINE_SPINE_ASID"] ?? "999999999999")
            do {
                let lookup = try LookupRequest(json: try readInput(file))
                print(try SpineRequestBuilder(identity: identity).build(nhsNumber: lookup.nhsNumber,
                                                                        requester: lookup.requester).body)
            } catch {
                throw CommandFailure("\(error)")
            }
        }
    }
}
