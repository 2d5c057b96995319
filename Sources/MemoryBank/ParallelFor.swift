import Dispatch

/// Wrapper that lets a non-Sendable value cross into `concurrentPerform`; callers guarantee that the
/// iterations touch disjoint memory.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}

/// Runs body(0..<iterations) on Dispatch's worker threads (or inline for one iteration) and waits.
func parallelFor(iterations: Int, _ body: (Int) -> Void) {
    if iterations == 1 { body(0); return }
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendable(value: escapable)
        DispatchQueue.concurrentPerform(iterations: iterations) { i in box.value(i) }
    }
}
