import Foundation
import ScalperTestSupport
import Session
import Testing
import Trading

@Suite("The session store's tables")
struct SessionStoreTableTests {
    @Test("meta: the first start is kept, a restart records its time and the settings now in force, another name is refused")
    func meta() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock(1_000)
        let store = try SessionStore(path: dir.path("sessions/s1/session.sqlite"), now: clock.read)
        #expect(try store.meta() == nil)
        let first = try store.start(name: "s1", model: "m-a", profile: "paper", configurationJSON: #"{"capital":1000}"#)
        #expect(first == SessionMeta(name: "s1", model: "m-a", profile: "paper", configurationJSON: #"{"capital":1000}"#, startedAt: 1_000, resumedAt: nil, schemaVersion: SessionStore.schemaVersion))
        clock.set(5_000)
        let again = try store.start(name: "s1", model: "m-b", profile: "paper", configurationJSON: #"{"capital":2000}"#)
        #expect(again.startedAt == 1_000 && again.resumedAt == 5_000 && again.model == "m-b" && again.configurationJSON == #"{"capital":2000}"#)
        #expect(try store.meta() == again)
        #expect(throws: SessionStoreError.self) { try store.start(name: "s2", model: "m-b", profile: "paper", configurationJSON: "{}") }
    }
}
