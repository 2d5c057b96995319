import Foundation
import Reports

/// A self-contained HTML page for reviewing a synthetic defect folder in a browser: every sample's image beside its
/// mask, with its id, prompt or method, seed and source files from the manifest, and its current verdict. The expert
/// picks accept / reject per sample and the page composes the `patchcore review` command that records the changes
/// (a static page cannot write files itself). Images are linked by paths relative to the folder, so the page is
/// written inside it and keeps working when the folder is copied elsewhere.
///
/// ```swift
/// let html = try ReviewSheet.html(folder: dir)
/// try AtomicFile.write(Data(html.utf8), to: dir.appendingPathComponent("review.html"))
/// ```
public enum ReviewSheet {
    public static let fileName = "review.html"

    /// The page for `folder` (all samples, rejected ones included), reading its manifest and review.json.
    /// `command` is how the page spells the CLI in the command it composes.
    public static func html(folder: URL, command: String = "patchcore review") throws -> String {
        let pairs = try SyntheticDefectSet.pairs(in: folder, includingRejected: true)
        let records = Dictionary(try SyntheticDefectSet.records(in: folder).map { ($0.id, $0) }, uniquingKeysWith: { _, b in b })
        let review = try SyntheticDefectReview.load(folder: folder)

        var cards = ""
        for pair in pairs {
            let id = pair.id
            let verdict = review.verdict(id)
            var facts: [String] = []
            if let r = records[id] {
                if let prompt = r.prompt { facts.append("prompt: " + HTML.escape(prompt)) }
                if let method = r.method { facts.append("method: " + HTML.escape(method)) }
                facts.append("seed \(r.seed)")
                if let s = r.sourceImage { facts.append("good image: " + HTML.escape(s)) }
                if let s = r.sourceMask { facts.append("mask: " + HTML.escape(s)) }
            }
            let options = SyntheticDefectReview.Verdict.allCases.map { v in
                "<option value=\"\(v.rawValue)\"\(v == verdict ? " selected" : "")>\(v.rawValue)</option>"
            }.joined()
            cards += """
            <div class="card \(verdict.rawValue)" data-id="\(HTML.escape(id))" data-recorded="\(verdict.rawValue)">
              <div class="pair"><img src="\(HTML.escape(relative(pair.image, to: folder)))" alt="image \(HTML.escape(id))"><img src="\(HTML.escape(relative(pair.mask, to: folder)))" alt="mask \(HTML.escape(id))"></div>
              <div class="id">\(HTML.escape(id))</div>
              <div class="facts">\(facts.joined(separator: "<br>"))</div>
              <select onchange="update()">\(options)</select>
            </div>

            """
        }
        let summary = review.summary(of: pairs.map(\.id))
        return """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>Review: \(HTML.escape(folder.lastPathComponent))</title>
        <style>
        body { font-family: sans-serif; margin: 1em; }
        .grid { display: flex; flex-wrap: wrap; gap: 12px; }
        .card { border: 3px solid #bbb; padding: 6px; width: 420px; }
        .card.accepted { border-color: #2a2; } .card.rejected { border-color: #c22; opacity: 0.7; }
        .pair img { width: 200px; height: 200px; object-fit: contain; background: #000; margin-right: 4px; }
        .id { font-family: monospace; font-weight: bold; margin: 4px 0; }
        .facts { font-size: 12px; color: #444; min-height: 3em; }
        textarea { width: 100%; height: 4em; font-family: monospace; }
        </style></head><body>
        <h2>\(HTML.escape(folder.path))</h2>
        <p>\(pairs.count) sample(s): \(summary). Rejected samples are left out of the positive bank; unreviewed ones are used.
        Choose a verdict per sample, then run the command below to record the changes.</p>
        <textarea id="command" readonly></textarea>
        <div class="grid">
        \(cards)</div>
        <script>
        function quote(s) { return "'" + s.replace(/'/g, "'\\\\''") + "'"; }
        function update() {
          const changes = { accepted: [], rejected: [], unreviewed: [] };
          for (const card of document.querySelectorAll(".card")) {
            const v = card.querySelector("select").value;
            card.className = "card " + v;
            if (v !== card.dataset.recorded) changes[v].push(card.dataset.id);
          }
          let cmd = \(jsString(command)) + " " + quote(\(jsString(folder.path)));
          for (const [flag, ids] of [["--accept", changes.accepted], ["--reject", changes.rejected], ["--clear", changes.unreviewed]]) {
            if (ids.length) cmd += " " + flag + " " + quote(ids.join(","));
          }
          document.getElementById("command").value =
            (changes.accepted.length + changes.rejected.length + changes.unreviewed.length) ? cmd : "(no changes yet)";
        }
        update();
        </script>
        </body></html>

        """
    }

    /// `file`'s path relative to `folder` when inside it (always, for pairs read from the folder), else absolute.
    static func relative(_ file: URL, to folder: URL) -> String {
        let base = folder.standardizedFileURL.path + "/", path = file.standardizedFileURL.path
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }

    /// A JavaScript string literal (JSON encoding, with < escaped so no "</script>" can end the script early).
    static func jsString(_ s: String) -> String {
        HTML.scriptJSON((try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8))
    }
}
