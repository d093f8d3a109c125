import Foundation

/// Shows how a batch is going on standard error: a bar redrawn in place on a terminal, plain lines
/// (every few seconds) when the output goes to a file or a pipe.
struct BatchProgress {
    let total: Int
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let started = ContinuousClock.now
    private var lastShown = ContinuousClock.now - .seconds(60)
    private(set) var outcomes: [String: Int] = [:]
    private var answeredThisRun = 0
    private var alreadyAnswered: Int

    init(total: Int, alreadyAnswered: Int) {
        self.total = total
        self.alreadyAnswered = alreadyAnswered
    }

    var answered: Int { alreadyAnswered + answeredThisRun }

    mutating func record(_ outcome: String) {
        outcomes[outcome, default: 0] += 1
        answeredThisRun += 1
        show()
    }

    mutating func show(force: Bool = false) {
        let now = ContinuousClock.now
        guard force || now - lastShown >= (isTerminal ? .milliseconds(100) : .seconds(5)) else { return }
        lastShown = now
        let seconds = max(0.001, Double((now - started).components.seconds)
            + Double((now - started).components.attoseconds) / 1e18)
        let rate = Double(answeredThisRun) / seconds
        let left = total - answered
        let eta = rate > 0 ? "\(Int((Double(left) / rate).rounded()))s" : "-"
        let counts = outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let status = "\(answered)/\(total) answered (\(counts.isEmpty ? "none yet" : counts)), \(String(format: "%.0f", rate))/s, ETA \(eta)"
        if isTerminal {
            let width = 30
            let filled = total == 0 ? width : width * answered / total
            FileHandle.standardError.write(Data("\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(status)\u{1B}[K".utf8))
        } else {
            FileHandle.standardError.write(Data("batch: \(status)\n".utf8))
        }
    }

    /// Ends the bar's line on a terminal.
    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
