import Foundation
import ScalperTestSupport
import Testing

@testable import Exchange

/// The exchange's parameter decoding answers what `removingPercentEncoding` answers.
@Suite("Reading request text: percent decoding, the signed payload, recvWindow")
struct RequestTextTests {
    /// Foundation answers nil for most bytes that are not UTF-8 but repairs some into U+FFFD; the
    /// exchange answers nil for all of them (the parameter is then read as sent and refused by its check).
    private func expect(_ ours: String?, decodes foundation: String?, _ text: String) {
        if let foundation, foundation.unicodeScalars.contains("\u{FFFD}") {
            #expect(ours == nil, "\(text)")
        } else {
            #expect(ours == foundation, "\(text)")
        }
    }

    @Test("20,000 random parameter texts decode as removingPercentEncoding decodes them (bytes that are not UTF-8: nil), + as a space in values")
    func decodesAsFoundation() {
        var rng = SplitMix64(seed: 7)
        // Plain characters, escapes (valid, malformed, non-UTF-8 bytes) and '+'.
        let pieces = ["a", "Z", "9", ".", "-", "_", "+", "%20", "%2B", "%2b", "%E2%82%AC", "%C3", "%", "%4", "%G1", "%FF", "~"]
        for _ in 0..<20_000 {
            let text = (0..<Int.random(in: 0...8, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            let asName = percentDecoded(Substring(text), plusAsSpace: false)
            let asValue = percentDecoded(Substring(text), plusAsSpace: true)
            expect(asName, decodes: text.removingPercentEncoding, text)
            expect(asValue, decodes: text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding, text)
        }
        #expect(percentDecoded("BTC%2FUSDT+x", plusAsSpace: true) == "BTC/USDT x")
    }

    @Test("The payload without its signature pairs equals splitting, filtering and joining, for signatures anywhere")
    func payloadWithoutSignature() {
        var rng = SplitMix64(seed: 8)
        let pairs = ["a=1", "", "b=%20", "signature=ab12", "signature=", "signatures=1", "x=signature=2", "timestamp=17"]
        for _ in 0..<20_000 {
            let text = (0..<Int.random(in: 0...6, using: &rng)).map { _ in pairs.randomElement(using: &rng)! }.joined(separator: "&")
            let reference = text.split(separator: "&", omittingEmptySubsequences: false).filter { !$0.hasPrefix("signature=") }
                .joined(separator: "&")
            #expect(withoutSignature(text) == reference, "\(text)")
        }
    }

    @Test("recvWindow text is read as the pattern ^[0-9]{1,20}(\\.[0-9]{1,3})?$ reads it")
    func recvWindowText() {
        var rng = SplitMix64(seed: 9)
        let pieces = ["0", "5", "9", ".", "-", "a", " ", "00000"]
        for _ in 0..<20_000 {
            let text = (0..<Int.random(in: 0...12, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            let pattern = text.range(of: #"^[0-9]{1,20}(\.[0-9]{1,3})?$"#, options: .regularExpression) != nil
            #expect(isRecvWindowText(text) == pattern, "\(text)")
        }
    }
}
