import Foundation

/// At most `workers` inspections are scored at once and at most `queue` wait; the next one is refused at once
/// (the route answers 503 with Retry-After), so a burst never builds an unbounded backlog. Scoring runs on
/// Dispatch threads, not on Swift's cooperative pool, so a long inference never stalls request handling.
actor InferenceGate {
    struct Overloaded: Error {}

    let workers: Int
    let queue: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(workers: Int, queue: Int) {
        self.workers = max(1, workers)
        self.queue = max(0, queue)
    }

    var depth: (running: Int, waiting: Int) { (running, waiting.count) }

    private func enter() async throws {
        if running < workers { running += 1; return }
        guard waiting.count < queue else { throw Overloaded() }
        await withCheckedContinuation { waiting.append($0) }   // `running` is handed over by `leave`
    }

    private func leave() {
        if waiting.isEmpty { running -= 1 } else { waiting.removeFirst().resume() }
    }

    /// Runs `work` on a Dispatch thread once a worker is free.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await enter()
        defer { leave() }
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
