#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import HTTPTransport

/// The development PKI of `Deploy/generate-certificates.sh`, generated once per test process into a
/// temporary folder that is removed when the process exits.
public enum Certificates {
    private static let generated: Result<String, GenerationError> = {
        // Tests/TestSupport/Certificates.swift -> the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("Deploy/generate-certificates.sh").path
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("cpis-tests-\(ProcessInfo.processInfo.processIdentifier)").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, directory]
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
        } catch {
            return .failure(GenerationError(reason: "cannot run \(script): \(error)"))
        }
        guard process.terminationStatus == 0 else {
            return .failure(GenerationError(reason: "\(script) exited with \(process.terminationStatus)"))
        }
        removeAtExit = directory
        atexit {
            if let directory = Certificates.removeAtExit { try? FileManager.default.removeItem(atPath: directory) }
        }
        return .success(directory)
    }()

    // Written once, by the initialiser of `generated` (which Swift runs once), before it is read at exit.
    nonisolated(unsafe) private static var removeAtExit: String?

    public struct GenerationError: Error, CustomStringConvertible {
        let reason: String
        public var description: String { reason }
    }

    /// The path of `name` (e.g. "ca.pem") in the generated folder.
    public static func path(_ name: String) throws -> String {
        "\(try generated.get())/\(name)"
    }

    public static func server(requireClientCertificates: Bool = true) throws -> TLSConfiguration {
        .server(certificateFile: try path("server.pem"), keyFile: try path("server.key"),
                clientCAFile: requireClientCertificates ? try path("ca.pem") : nil)
    }

    public static func client(ca: String = "ca.pem", withCertificate: Bool = true, verifyHostname: Bool = true) throws -> TLSConfiguration {
        .client(caFile: try path(ca), certificateFile: withCertificate ? try path("client.pem") : nil,
                keyFile: withCertificate ? try path("client.key") : nil, verifyHostname: verifyHostname)
    }
}
