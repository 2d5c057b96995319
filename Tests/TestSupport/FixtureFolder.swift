import Foundation
import Checkpoints
import TensorCore

/// A test target's `Fixtures` folder (committed files written by `scripts/make_*_fixtures.py`), the one fixture
/// loader every test target uses. `Bundle.module` is generated per test target, so each target passes its own.
///
/// ```swift
/// let fixtures = FixtureFolder(bundle: .module)
/// let t = try fixtures.tensors("kernels.safetensors")
/// ```
public struct FixtureFolder: Sendable {
    /// `<bundle resources>/Fixtures`.
    public let root: URL

    public init(bundle: Bundle) {
        root = (bundle.resourceURL ?? bundle.bundleURL).appendingPathComponent("Fixtures")
    }

    /// The file `name` (may hold subfolders) in the folder; not checked.
    public func url(_ name: String) -> URL { root.appendingPathComponent(name) }

    /// The file's URL; throws `MissingFixture` when it does not exist.
    public func existing(_ name: String) throws -> URL {
        let u = url(name)
        guard FileManager.default.fileExists(atPath: u.path) else { throw MissingFixture(file: name, folder: root.path) }
        return u
    }

    /// The file's bytes.
    public func data(_ name: String) throws -> Data { try Data(contentsOf: existing(name)) }

    /// A `.safetensors` fixture: tensors and metadata.
    public func safetensors(_ name: String) throws -> SafeTensors.Contents { try SafeTensors.read(existing(name)) }

    /// The tensors of a `.safetensors` fixture.
    public func tensors(_ name: String) throws -> [String: Tensor] { try safetensors(name).tensors }
}

/// A fixture file that is not in the folder.
public struct MissingFixture: Error, CustomStringConvertible {
    public let file: String
    public let folder: String
    public var description: String {
        "missing fixture \(file) in \(folder); run the scripts/make_*_fixtures.py that writes it"
    }
}
