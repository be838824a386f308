public import Foundation
public import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A local webhook: every POST's path and body, answered with `status`.
public func withWebhook<R: Sendable>(status: HTTPResponse.Status = .ok, _ body: @Sendable (URL) async throws -> R) async throws -> (R, [(path: String, body: String)]) {
    let received = Mutex<[(path: String, body: String)]>([])
    let router = Router()
    router.post("/**") { request, _ -> Response in
        let bytes = try await request.body.collect(upTo: 1 << 20)
        received.withLock { $0.append((request.uri.path, String(buffer: bytes))) }
        return Response(status: status)
    }
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let app = Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) },
        logger: Logger(label: "webhook")
    )
    let result = try await withThrowingTaskGroup(of: R?.self) { group in
        group.addTask {
            try await app.runService()
            return nil
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        let result = try await body(URL(string: "http://127.0.0.1:\(port)/hook")!)
        group.cancelAll()
        return result
    }
    return (result, received.withLock { $0 })
}

