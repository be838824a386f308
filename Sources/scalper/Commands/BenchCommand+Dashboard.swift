import Dashboard
import Foundation

/// How fast a fill reaches the screen (issue #14): a running session's dashboard opened in
/// headless Chromium; the page notes, for every fill committed after it opened, the wall time from
/// the session's commit to the next frame after the fill is in the DOM.
extension BenchCommand {
    func benchDashboard() async throws {
        guard let dashboardURL else { throw fail("the dashboard figures need --dashboard-url (a running session's dashboard)") }
        let browser: HeadlessChromium
        do {
            browser = try await HeadlessChromium()
        } catch {
            throw fail("\(error)")
        }
        defer { browser.close() }
        let seconds = dashboardSeconds
        let (latencies, errors) = try await browser.withPage(dashboardURL) { page -> ([Double], [String]) in
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1_000)))
            let json = try await page.evaluate("JSON.stringify(window.SCALPER_FILL_LATENCIES_MS ?? [])") as? String ?? "[]"
            let values = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [Double] ?? []
            return (values, page.errors)
        }
        guard errors.isEmpty else { throw fail("the dashboard page reported errors: \(errors)") }
        guard !latencies.isEmpty else { throw fail("no fill was committed while the page was open for \(seconds) s") }
        let sorted = latencies.sorted()
        func q(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        note(
            "dashboard: \(sorted.count) fills committed while the page was open \(Int(seconds)) s: commit → on screen p50 \(Int(q(0.5))) ms, p99 \(Int(q(0.99))) ms, max \(Int(sorted.last ?? 0)) ms (the page's update interval is 250 ms)"
        )
        print("bench dashboard.fill_to_dom_ms \(Int(q(0.99).rounded())) ms")
        print("bench dashboard.fill_to_dom_p50_ms \(Int(q(0.5).rounded())) ms")
        print("bench dashboard.fills_measured \(sorted.count) fills")
    }
}
