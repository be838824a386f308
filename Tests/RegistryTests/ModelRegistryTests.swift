import Foundation
import Model
import Registry
import ScalperCore
import ScalperTestSupport
import Synchronization
import Testing

/// Three bundles made by the training pipeline on ten days of the sample, named `a`, `b` and `c`,
/// trained once per test process (one thread: the suite shares two cores with every other).
private actor Made {
    static let shared = Made()
    private var made: TemporaryDirectory?

    func folder() throws -> TemporaryDirectory {
        if let made { return made }
        let dir = try TemporaryDirectory(prefix: "scalper-registry-bundles")
        let fil = try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")
        let near = try Fixtures.sampleKlines("NEARUSDT-1m-2023-08.zip")
        var configuration = ModelConfiguration()
        configuration.maxRounds = 20
        configuration.earlyStoppingRounds = 5
        configuration.threads = 1
        for name in ["a", "b", "c"] {
            let request = TrainingRequest(
                series: [("FILUSDT", Array(fil.prefix(14_400))), ("NEARUSDT", Array(near.prefix(14_400)))],
                interval: .oneMinute,
                configuration: configuration,
                windowFrom: fil[0].openTime,
                windowTo: fil[14_399].openTime + 60_000,
                name: name,
                modelsDirectory: dir.url,
                gitCommit: "test"
            )
            let outcome = try TrainingPipeline.run(request)
            guard FileManager.default.fileExists(atPath: outcome.bundle.appendingPathComponent("report.md").path),
                outcome.metadata.name == name, outcome.metadata.symbols == ["FILUSDT", "NEARUSDT"]
            else { throw CocoaError(.fileWriteUnknown) }
        }
        made = dir
        return dir
    }
}

/// Copies of the three bundles in `dir/models`.
private func bundles(in dir: TemporaryDirectory) async throws -> [URL] {
    let source = try await Made.shared.folder()
    try FileManager.default.createDirectory(at: dir.url.appendingPathComponent("models"), withIntermediateDirectories: true)
    return try ["a", "b", "c"].map { name in
        let target = dir.url.appendingPathComponent("models/\(name)")
        try FileManager.default.copyItem(at: source.url.appendingPathComponent(name), to: target)
        return target
    }
}

/// A clock the test moves.
private final class TestClock: Sendable {
    private let value = Mutex<Int64>(1_700_000_000_000)
    var now: Int64 { value.withLock { $0 } }
    func advance(_ ms: Int64) { value.withLock { $0 += ms } }
}

/// The three bundles in `dir/models`, registered a second apart (a before b before c) in the
/// registry there, on a clock the test moves.
private func registered(in dir: TemporaryDirectory) async throws -> ([URL], TestClock, ModelRegistry) {
    let made = try await bundles(in: dir)
    let clock = TestClock()
    let registry = try ModelRegistry(path: dir.path("models/registry.sqlite")) { clock.now }
    for bundle in made {
        try registry.register(bundle: bundle, origin: .train)
        clock.advance(1_000)
    }
    return (made, clock, registry)
}

@Suite("The model registry")
struct ModelRegistryTests {
    @Test("Register, promote, reject and roll back: one champion at a time, every change a decision with its reason, in order")
    func lifecycle() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (made, _, registry) = try await registered(in: dir)
        #expect(try registry.models().map(\.name) == ["c", "b", "a"])
        #expect(try registry.models().allSatisfy { $0.status == .candidate && $0.auc > 0.5 && $0.dataHash.count == 64 })
        #expect(try registry.champion() == nil)
        #expect(throws: RegistryError.self) { try registry.register(bundle: made[0], origin: .retrain) }

        try registry.promote("a", reason: "first")
        try registry.promote("b", reason: "better log-loss")
        try registry.reject("c", reason: "not better")
        #expect(try registry.champion()?.name == "b")
        #expect(try registry.model(named: "a")?.status == .retired)
        #expect(try registry.model(named: "c")?.status == .rejected)
        #expect(throws: RegistryError.self) { try registry.promote("b", reason: "again") }
        #expect(throws: RegistryError.self) { try registry.promote("nope", reason: "x") }

        #expect(try registry.rollback(reason: "live P&L fell") == "a")
        #expect(try registry.champion()?.name == "a")
        #expect(try registry.model(named: "b")?.status == .retired)
        let decisions = try registry.decisions()
        #expect(decisions.map(\.kind) == ["promote", "promote", "reject", "rollback"])
        #expect(decisions.map(\.model) == ["a", "b", "c", "a"])
        #expect(decisions.map(\.previousChampion) == [nil, "a", "b", "b"])
        #expect(decisions.map(\.reason) == ["first", "better log-loss", "not better", "live P&L fell"])
        // a replaced no champion: nothing to roll back to.
        #expect(throws: RegistryError.self) { try registry.rollback(reason: "again") }
        // Reopened, the registry holds the same.
        let reopened = try ModelRegistry(path: dir.path("models/registry.sqlite"))
        #expect(try reopened.champion()?.name == "a" && reopened.decisions().count == 4)
    }

    @Test("Purge keeps the N newest, the champion and a bundle a session beat for lately, and deletes the others' folders")
    func purge() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (made, clock, registry) = try await registered(in: dir)
        try registry.promote("a", reason: "oldest is champion")
        try registry.heartbeat(model: "b", session: "paper1")
        // keep 0: only the champion and the bundle in use survive.
        #expect(try registry.purge(keep: 0) == ["c"])
        #expect(!FileManager.default.fileExists(atPath: made[2].path))
        #expect(FileManager.default.fileExists(atPath: made[0].path) && FileManager.default.fileExists(atPath: made[1].path))
        // Eleven minutes without a beat: b is no longer in use.
        clock.advance(ModelRegistry.inUseWindowMs + 60_000)
        #expect(try registry.purge(keep: 0) == ["b"])
        #expect(try registry.models().map(\.name) == ["a"])
    }

    @Test("A folder that is not a bundle, or not in the registry's folder, is refused, naming it and the registry")
    func notABundle() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let registry = try ModelRegistry(path: dir.path("models/registry.sqlite"))
        let empty = dir.url.appendingPathComponent("models/empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let error = #expect(throws: RegistryError.self) { try registry.register(bundle: empty, origin: .train) }
        #expect(error?.description.hasPrefix("\(dir.path("models/registry.sqlite")): \(empty.path) is not a model bundle") == true)
        let outside = #expect(throws: RegistryError.self) { try registry.register(bundle: dir.url, origin: .train) }
        #expect(outside?.description.contains("is not in \(dir.path("models")): a registry holds the bundles of its own folder") == true)
    }

    @Test("A registry moved with its folder finds its bundles there, and purge deletes only inside it")
    func movedFolder() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try await registered(in: dir)
        let moved = dir.url.appendingPathComponent("elsewhere")
        try FileManager.default.moveItem(at: dir.url.appendingPathComponent("models"), to: moved)
        let registry = try ModelRegistry(path: moved.appendingPathComponent("registry.sqlite").path)
        #expect(try registry.models().map(\.path) == ["c", "b", "a"].map { moved.appendingPathComponent($0).path })
        #expect(try registry.purge(keep: 2) == ["a"])
        #expect(!FileManager.default.fileExists(atPath: moved.appendingPathComponent("a").path))
        #expect(FileManager.default.fileExists(atPath: moved.appendingPathComponent("b").path))
    }
}
