import Foundation
import Hummingbird
import InspectionStore
import Logging
import ServiceLifecycle
import TensorCore

/// `--watch DIR=PRODUCT`: inspects every PNG / JPEG that appears in DIR once it is complete (a file renamed into
/// the folder, or one whose size and modification time stayed the same over one poll), then moves it to
/// `DIR/done/` or `DIR/failed/` with the result (or the error) as `<name>.json` beside it. A file the service
/// cannot take now (the model is not loaded, the queue is full, the store is down) stays where it is and is tried
/// again on the next poll; nothing is lost when the service stops.
struct HotFolder: Service {
    let folder: URL
    let productName: String
    let inspector: Inspector
    let maxBytes: Int
    let pollSeconds: Double
    let logger: Logger

    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    func run() async throws {
        let done = folder.appendingPathComponent("done"), failed = folder.appendingPathComponent("failed")
        for dir in [done, failed] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        var lastSeen: [String: FileStamp] = [:]
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var seen: [String: FileStamp] = [:]
            for name in candidates() {
                guard let stamp = FileStamp(folder.appendingPathComponent(name)) else { continue }
                seen[name] = stamp
                // Complete once unchanged over one poll interval (a file still being written grows or is touched).
                if lastSeen[name] == stamp { await process(name, done: done, failed: failed) }
            }
            lastSeen = seen
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int(pollSeconds * 1000))) }
            } catch {
                return
            }
        }
    }

    /// Regular image files directly in the folder (not hidden: cameras write `.name.tmp` and rename).
    func candidates() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { name in
            !name.hasPrefix(".") && Self.imageExtensions.contains((name as NSString).pathExtension.lowercased())
        }.sorted()
    }

    func process(_ name: String, done: URL, failed: URL) async {
        let file = folder.appendingPathComponent(name)
        let source = "hot-folder:\(folder.lastPathComponent)"
        do {
            let data = try InputFile.read(file, limit: maxBytes)
            let product = try await inspector.store.product(named: productName)
            let result = try await inspector.inspect(product: product, data: data, source: source)
            try finish(file, into: done, json: try JSONEncoder.snakeCase.encode(result))
        } catch {
            let http = (error as? HTTPError) ?? ErrorMiddleware.httpError(error, logger: logger, hiding: nil)
            // Not the file's fault: leave it for the next poll.
            if http.status == .serviceUnavailable || http.status == .conflict {
                logger.warning("hot folder \(folder.path): \(name) waits: \(http.body ?? "\(http.status)")")
                return
            }
            let report = ["file": name, "status": String(http.status.code), "error": http.body ?? "\(error)"]
            do {
                try finish(file, into: failed, json: try JSONEncoder.snakeCase.encode(report))
            } catch {
                logger.error("hot folder \(folder.path): cannot move \(name) to failed/: \(error)")
            }
        }
    }

    /// Writes `<dest>/<name>.json` (atomically) and moves the image beside it; a name already taken gets a
    /// numbered suffix, so nothing in done/ or failed/ is overwritten.
    func finish(_ file: URL, into destination: URL, json: Data) throws {
        var target = destination.appendingPathComponent(file.lastPathComponent)
        var n = 1
        while FileManager.default.fileExists(atPath: target.path) || FileManager.default.fileExists(atPath: target.path + ".json") {
            let base = (file.lastPathComponent as NSString).deletingPathExtension
            target = destination.appendingPathComponent("\(base)-\(n).\(file.pathExtension)")
            n += 1
        }
        try AtomicFile.write(json, to: URL(fileURLWithPath: target.path + ".json"))
        try FileManager.default.moveItem(at: file, to: target)
    }
}

/// Size and modification time of a regular file.
struct FileStamp: Equatable {
    var size: Int
    var modified: Date

    init?(_ url: URL) {
        guard let a = try? FileManager.default.attributesOfItem(atPath: url.path),
              (a[.type] as? FileAttributeType) == .typeRegular,
              let size = a[.size] as? Int, let modified = a[.modificationDate] as? Date else { return nil }
        self.size = size
        self.modified = modified
    }
}

extension JSONEncoder {
    static var snakeCase: JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        return e
    }
}
