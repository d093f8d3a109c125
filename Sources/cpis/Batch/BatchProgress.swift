import Foundation

/// Shows how a batch is going on standard error: a bar redrawn in place on a terminal, plain lines
/// (every few seconds) when the output goes to a file or a pipe.
struct BatchProgress {
    let total: Int
    private let isTerminal = isatty(STDERR_FILENO) == 1
    /// The rate counts from the first answer: the time to connect and publish, or to collect the
    /// results an earlier run left queued, says nothing about how fast answers come.
    private var firstAnswer: ContinuousClock.Instant?
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
        if firstAnswer == nil { firstAnswer = .now }
        show()
    }

    mutating func show(force: Bool = false) {
        let now = ContinuousClock.now
        guard force || now - lastShown >= (isTerminal ? .milliseconds(100) : .seconds(5)) else { return }
        lastShown = now
        // The answers after the first, over the time since it came.
        let rate = firstAnswer.map { first in
            Double(answeredThisRun - 1) / max(0.001, Double((now - first) / .milliseconds(1)) / 1000)
        } ?? 0
        let left = total - answered
        let eta = rate > 0 ? "\(Int((Double(left) / rate).rounded()))s" : "-"
        let counts = outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let status = "\(answered)/\(total) answered (\(counts.isEmpty ? "none yet" : counts)), "
            + (rate > 0 ? "\(String(format: "%.0f", rate))/s" : "-/s") + ", ETA \(eta)"
        if isTerminal {
            let width = 30
            let filled = total == 0 ? width : width * answered / total
            FileHandle.standardError.write(Data("\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(status)\u{1B}[K".utf8))
        } else {
            FileHandle.standardError.write(Data("batch: \(status)\n".utf8))
        }
    }

    /// A line of its own, between the progress lines (on a terminal, the bar is drawn again below it).
    mutating func note(_ text: String) {
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[K" : "") + "batch: \(text)\n").utf8))
        lastShown = .now - .seconds(60)
    }

    /// Ends the bar's line on a terminal.
    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
