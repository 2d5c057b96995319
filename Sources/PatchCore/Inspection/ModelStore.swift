import Foundation

/// Owns loaded models by name and version, for a long-running process (a server, an app). A model is swapped
/// atomically: `install` replaces the current version in one actor step, calls that already hold the old scorer
/// finish on it, and every later call gets the new one. Scoring itself runs outside the actor, so concurrent
/// calls never wait for each other here.
///
/// ```swift
/// let store = ModelStore()
/// try await store.load(URL(fileURLWithPath: "bottle-v2.safetensors"), as: "bottle")
/// let p = try await store.predict(.encoded(body, name: "cam-1/0001.png"), with: "bottle")
/// print(p.model)          // bottle v1 3f2a...
/// ```
public actor ModelStore {
    /// One loaded version.
    public struct Entry: Sendable {
        public var name: String
        public var version: Int
        public var scorer: PatchCoreScorer
        public var loadedAt: Date
    }

    private var current: [String: Entry] = [:]
    private var lastVersion: [String: Int] = [:]

    public init() {}

    /// Makes `model` the current version of `name` (version: the given one, else one above the last installed).
    /// The backbone is loaded before the swap, outside the actor's queue of callers.
    @discardableResult
    public func install(_ model: PatchCoreModel, weights: URL, as name: String, version: Int? = nil) async throws -> Entry {
        let v = version ?? (lastVersion[name] ?? 0) + 1
        let scorer = try await Self.makeScorer(model: model, weights: weights, name: name, version: v)
        return install(scorer: scorer)
    }

    /// Loads a model file (weights: given, else the cached weights of its backbone) and installs it.
    @discardableResult
    public func load(_ file: URL, as name: String, weights: URL? = nil, version: Int? = nil) async throws -> Entry {
        let scorer = try await Self.loadScorer(file, weights: weights, name: name, version: version)
        return install(scorer: scorer)
    }

    @concurrent private nonisolated static func loadScorer(_ file: URL, weights: URL?, name: String, version: Int?) async throws -> PatchCoreScorer {
        try PatchCoreScorer.load(file, weights: weights, name: name, version: version)
    }

    /// Installs an already built scorer under its identity's name and version.
    @discardableResult
    public func install(scorer: PatchCoreScorer) -> Entry {
        let name = scorer.identity.name ?? scorer.identity.id
        let version = scorer.identity.version ?? (lastVersion[name] ?? 0) + 1
        let entry = Entry(name: name, version: version, scorer: scorer, loadedAt: Date())
        let previous = current[name]?.version
        current[name] = entry
        lastVersion[name] = max(lastVersion[name] ?? 0, version)
        logger.info("model \(name) v\(version) installed", metadata: [
            "id": "\(scorer.identity.id)", "replaces": "\(previous.map(String.init) ?? "none")"])
        return entry
    }

    /// The current version of `name`.
    public func entry(_ name: String) throws -> Entry {
        guard let e = current[name] else {
            throw PatchCoreError.invalidConfiguration("no model named '\(name)' is loaded (loaded: \(current.keys.sorted().joined(separator: ", ")))")
        }
        return e
    }

    public var names: [String] { current.keys.sorted() }

    /// Unloads `name`; calls in flight finish on the scorer they hold.
    public func remove(_ name: String) { current[name] = nil }

    /// Scores with the current version of `name`. The scorer is taken in one actor step, then used off the actor.
    @concurrent public nonisolated func predict(_ source: ImageSource, with name: String) async throws -> Prediction {
        let scorer = try await entry(name).scorer
        return try scorer.predict(source)
    }

    @concurrent private nonisolated static func makeScorer(model: PatchCoreModel, weights: URL, name: String, version: Int) async throws -> PatchCoreScorer {
        try PatchCoreScorer(model: model, weights: weights, name: name, version: version)
    }
}
