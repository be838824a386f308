import Foundation

/// Return against maximum drawdown over a sweep's combinations: the combinations no other one
/// beats on both, and the champion under a drawdown cap.
public enum Pareto {
    /// The combinations on the front — those no other beats with a return at least as high and
    /// a drawdown at most as deep, one of them strictly — ordered by drawdown, shallowest first.
    /// Combinations with a return or drawdown that is not a number are left out.
    public static func front(returns: [Double], drawdowns: [Double]) -> [Int] {
        precondition(returns.count == drawdowns.count, "one drawdown per return")
        let valid = returns.indices.filter { returns[$0].isFinite && drawdowns[$0].isFinite }
        // Shallowest drawdown first (then the higher return, then the earlier combination); a point
        // is on the front when its return beats every return before it.
        let order = valid.sorted {
            (drawdowns[$0], -returns[$0], $0) < (drawdowns[$1], -returns[$1], $1)
        }
        var out: [Int] = []
        var best = -Double.infinity
        for i in order where returns[i] > best {
            out.append(i)
            best = returns[i]
        }
        return out
    }

    /// The champion: the highest return among combinations whose drawdown is at most
    /// `maxDrawdown` (ties: the shallower drawdown, then the earlier combination); nil when none
    /// stays within the cap.
    public static func champion(returns: [Double], drawdowns: [Double], maxDrawdown: Double) -> Int? {
        front(returns: returns, drawdowns: drawdowns).last { drawdowns[$0] <= maxDrawdown }
    }

    /// A scatter plot of every combination (return against drawdown, both in percent), the front
    /// joined by a line, the cap as a dashed vertical and the champion ringed.
    public static func svg(
        returns: [Double],
        drawdowns: [Double],
        front: [Int],
        champion: Int?,
        maxDrawdown: Double?,
        title: String
    ) -> String {
        let width = 640.0
        let height = 420.0
        let (left, right, top, bottom) = (64.0, 24.0, 40.0, 48.0)
        let points = returns.indices.filter { returns[$0].isFinite && drawdowns[$0].isFinite }
        let xs = points.map { drawdowns[$0] * 100 } + (maxDrawdown.map { [$0 * 100] } ?? [])
        let ys = points.map { returns[$0] * 100 }
        let (x0, x1) = (0.0, max(xs.max() ?? 1, 0.01) * 1.05)
        let lowY = min(ys.min() ?? 0, 0)
        let highY = max(ys.max() ?? 0, 0)
        let pad = max((highY - lowY) * 0.05, 0.01)
        let (y0, y1) = (lowY - pad, highY + pad)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * (width - left - right) }
        func py(_ y: Double) -> Double { top + (y1 - y) / (y1 - y0) * (height - top - bottom) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(width / 2))" y="22" text-anchor="middle" font-size="14">\(escape(title))</text>
            <line x1="\(f(px(x0)))" y1="\(f(py(0)))" x2="\(f(px(x1)))" y2="\(f(py(0)))" stroke="#999"/>
            <line x1="\(f(left))" y1="\(f(top))" x2="\(f(left))" y2="\(f(height - bottom))" stroke="#333"/>
            <line x1="\(f(left))" y1="\(f(height - bottom))" x2="\(f(width - right))" y2="\(f(height - bottom))" stroke="#333"/>
            <text x="\(f(width / 2))" y="\(f(height - 10))" text-anchor="middle">max drawdown (%)</text>
            <text x="16" y="\(f(height / 2))" text-anchor="middle" transform="rotate(-90 16 \(f(height / 2)))">total return (%)</text>

            """
        for k in 0...4 {
            let x = x0 + (x1 - x0) * Double(k) / 4
            let y = y0 + (y1 - y0) * Double(k) / 4
            svg += "<text x=\"\(f(px(x)))\" y=\"\(f(height - bottom + 16))\" text-anchor=\"middle\">\(String(format: "%.2f", x))</text>\n"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(py(y) + 4))\" text-anchor=\"end\">\(String(format: "%.2f", y))</text>\n"
        }
        if let cap = maxDrawdown {
            svg += "<line x1=\"\(f(px(cap * 100)))\" y1=\"\(f(top))\" x2=\"\(f(px(cap * 100)))\" y2=\"\(f(height - bottom))\" stroke=\"#c33\" stroke-dasharray=\"5,4\"/>\n"
            svg += "<text x=\"\(f(px(cap * 100) + 4))\" y=\"\(f(top + 12))\" fill=\"#c33\">cap \(String(format: "%.2f", cap * 100)) %</text>\n"
        }
        for i in points {
            svg += "<circle cx=\"\(f(px(drawdowns[i] * 100)))\" cy=\"\(f(py(returns[i] * 100)))\" r=\"3\" fill=\"#89a\"/>\n"
        }
        if !front.isEmpty {
            let path = front.map { "\(f(px(drawdowns[$0] * 100))),\(f(py(returns[$0] * 100)))" }.joined(separator: " ")
            svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"#258\" stroke-width=\"2\"/>\n"
            for i in front {
                svg += "<circle cx=\"\(f(px(drawdowns[i] * 100)))\" cy=\"\(f(py(returns[i] * 100)))\" r=\"4\" fill=\"#258\"/>\n"
            }
        }
        if let c = champion, returns.indices.contains(c) {
            svg += "<circle cx=\"\(f(px(drawdowns[c] * 100)))\" cy=\"\(f(py(returns[c] * 100)))\" r=\"9\" fill=\"none\" stroke=\"#c33\" stroke-width=\"2\"/>\n"
        }
        return svg + "</svg>\n"
    }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
