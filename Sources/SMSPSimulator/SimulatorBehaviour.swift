import Foundation

/// The ways the simulator can fail, as the real path to an SMSP can.
public enum SimulatorFault: String, Sendable, Hashable, Codable, CaseIterable {
    /// HTTP 503 with a plain-text body (a load balancer with no healthy SMSP behind it).
    case http503 = "http-503"
    /// HTTP 500 with a `soap:Server` fault and ToolkitErrorInfo.
    case soapServerFault = "soap-server-fault"
    /// The request is read and never answered: the connection stays open until the client gives up.
    case noResponse = "no-response"
    /// A real answer is started and the connection reset half way through its body (CP-IS did see
    /// the query: its local authority is notified).
    case resetMidBody = "reset-mid-body"
    /// HTTP 200 with a body that is not well-formed XML.
    case invalidXML = "invalid-xml"
    /// HTTP 200 with a well-formed Distribution Envelope carrying another service's payload.
    case wrongPayload = "wrong-payload"
    /// A well-formed success answer carrying another child's record (a crossed line in the SMSP).
    case crossedRecord = "crossed-record"
    /// A well-formed success answer carrying an unborn child's record whose mother is someone else.
    case crossedUnbornRecord = "crossed-unborn-record"
    /// The right answer, but its `wsa:RelatesTo` names another message.
    case wrongRelatesTo = "wrong-relates-to"
}

/// One step of a scripted sequence for one NHS number: a fault, or the normal answer.
public enum SimulatorStep: Sendable, Hashable, Codable {
    case fault(SimulatorFault)
    case answer

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        if text == "answer" {
            self = .answer
        } else if let fault = SimulatorFault(rawValue: text) {
            self = .fault(fault)
        } else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "'\(text)' is not a step: use answer or one of "
                    + SimulatorFault.allCases.map(\.rawValue).joined(separator: ", ")))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .answer: try container.encode("answer")
        case .fault(let fault): try container.encode(fault.rawValue)
        }
    }
}

/// Response latency: none, fixed, or log-normal with a median and a 99th percentile (a long tail,
/// as real SMSP and Spine round trips have).
public enum SimulatorLatency: Sendable, Hashable {
    case none
    case fixed(Duration)
    case distribution(median: Duration, p99: Duration)

    /// A latency drawn for one request.
    public func sample(using generator: inout some RandomNumberGenerator) -> Duration {
        switch self {
        case .none: return .zero
        case .fixed(let duration): return duration
        case .distribution(let median, let p99):
            let medianSeconds = median.seconds, p99Seconds = max(p99.seconds, median.seconds)
            guard medianSeconds > 0 else { return .zero }
            // ln X ~ N(ln median, σ²) with P(X ≤ p99) = 0.99, z(0.99) = 2.3263.
            let sigma = log(p99Seconds / medianSeconds) / 2.3263
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &generator)
            let u2 = Double.random(in: 0..<1, using: &generator)
            let normal = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
            return .seconds(medianSeconds * exp(sigma * normal))
        }
    }
}

/// How the simulator behaves, beyond answering: latency and faults.
public struct SimulatorBehaviour: Sendable, Hashable {
    public var latency: SimulatorLatency
    /// The probability (0...1) of each fault, drawn independently for every request.
    public var faultRates: [SimulatorFault: Double]
    /// Faults that every request for an NHS number gets.
    public var faultTriggers: [String: SimulatorFault]

    public init(latency: SimulatorLatency = .none, faultRates: [SimulatorFault: Double] = [:],
                faultTriggers: [String: SimulatorFault] = [:]) {
        self.latency = latency
        self.faultRates = faultRates
        self.faultTriggers = faultTriggers
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
