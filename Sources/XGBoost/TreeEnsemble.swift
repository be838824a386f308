public import Foundation

/// A tree model's trees in flat arrays, evaluated in Swift: the low-latency path for a few rows.
///
/// Each call of the C API costs ≈ 24 µs before it reads a tree (it parses a JSON configuration and
/// an array interface, and makes a proxy matrix). A session's minute needs the classifier on ten
/// rows and, for a row past the threshold, the regressor and five slices of the classifier's
/// margin: seven calls. Walking the trees here costs a few µs a row, and gives what XGBoost's CPU
/// predictor gives bit for bit (the test compares them on real rows): the same float32 sum in tree
/// order starting from the base margin, the same split rule (`value < condition` goes left, a
/// missing value follows the default child), the same sigmoid in float32.
public struct TreeEnsemble: Sendable {
    /// The objectives it evaluates.
    public enum Objective: String, Sendable {
        /// Probability: sigmoid of the margin.
        case logistic = "binary:logistic"
        /// The margin itself.
        case squaredError = "reg:squarederror"
    }

    /// The objective.
    public let objective: Objective
    /// Trees held.
    public let treeCount: Int
    /// Input columns.
    public let featureCount: Int
    /// The margin every row starts from (float32, as XGBoost keeps it).
    public let baseMargin: Float
    /// First node of each tree in the flat arrays (and one past the last tree's).
    private let roots: [Int32]
    /// Per node, flat over all trees: the left child (−1: a leaf), the right child, the split
    /// feature, the split condition (a leaf's value for a leaf), whether a missing value goes left.
    private let left: [Int32]
    private let right: [Int32]
    private let feature: [Int32]
    private let condition: [Float]
    private let defaultLeft: [Bool]

    /// Reads a JSON model (XGBoost 1.7's schema, as ``Booster/serialized(format:)`` writes it).
    ///
    /// - Throws: ``JSONModelError`` for a document it cannot evaluate exactly (another objective,
    ///   categorical splits, several trees a round) — the caller then keeps to the C API.
    public init(json data: Data) throws(JSONModelError) {
        let summary = try JSONModelCheck.check(data)
        guard let objective = Objective(rawValue: summary.objective) else {
            throw JSONModelError(why: "objective \(summary.objective) is not evaluated in Swift")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let learner = root["learner"] as? [String: Any],
            let parameters = learner["learner_model_param"] as? [String: Any],
            let baseText = parameters["base_score"] as? String,
            let baseScore = Float(baseText.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))),
            let booster = learner["gradient_booster"] as? [String: Any],
            let model = booster["model"] as? [String: Any],
            let trees = model["trees"] as? [[String: Any]],
            let treeInfo = model["tree_info"] as? [NSNumber]
        else { throw JSONModelError(why: "the model lacks base_score, trees or tree_info") }
        guard treeInfo.allSatisfy({ $0.intValue == 0 }) else {
            throw JSONModelError(why: "a tree of another output group: only single-output models are evaluated in Swift")
        }
        self.objective = objective
        treeCount = trees.count
        featureCount = summary.featureCount
        switch objective {
        // XGBoost keeps base_score as a probability and starts from its logit, in float32.
        case .logistic: baseMargin = -logf(1 / baseScore - 1)
        case .squaredError: baseMargin = baseScore
        }
        var roots: [Int32] = []
        var left: [Int32] = []
        var right: [Int32] = []
        var feature: [Int32] = []
        var condition: [Float] = []
        var defaultLeft: [Bool] = []
        for (index, tree) in trees.enumerated() {
            if let types = tree["split_type"] as? [NSNumber], types.contains(where: { $0.intValue != 0 }) {
                throw JSONModelError(why: "trees[\(index)] has a categorical split: not evaluated in Swift")
            }
            let offset = Int32(left.count)
            roots.append(offset)
            // JSONModelCheck has checked every column's length and type.
            let l = (tree["left_children"] as? [NSNumber] ?? []).map(\.int32Value)
            let r = (tree["right_children"] as? [NSNumber] ?? []).map(\.int32Value)
            left += l.map { $0 < 0 ? -1 : $0 + offset }
            right += r.map { $0 < 0 ? -1 : $0 + offset }
            feature += (tree["split_indices"] as? [NSNumber] ?? []).map(\.int32Value)
            // The text is float32's shortest round-trip form: through Double to Float is exact.
            condition += (tree["split_conditions"] as? [NSNumber] ?? []).map { Float($0.doubleValue) }
            defaultLeft += (tree["default_left"] as? [NSNumber] ?? []).map { $0.intValue != 0 }
        }
        roots.append(Int32(left.count))
        self.roots = roots
        self.left = left
        self.right = right
        self.feature = feature
        self.condition = condition
        self.defaultLeft = defaultLeft
    }

    /// The margin of `row` (``featureCount`` values, NaN missing) over `trees`, as XGBoost sums it:
    /// the base margin, then each tree's leaf in order, in float32.
    public func margin(_ row: UnsafeBufferPointer<Float>, trees: Range<Int>) -> Float {
        precondition(row.count == featureCount, "a row of \(row.count) values for a model of \(featureCount) features")
        precondition(trees.lowerBound >= 0 && trees.upperBound <= treeCount, "trees \(trees) of \(treeCount)")
        var sum = baseMargin
        left.withUnsafeBufferPointer { left in
            right.withUnsafeBufferPointer { right in
                feature.withUnsafeBufferPointer { feature in
                    condition.withUnsafeBufferPointer { condition in
                        defaultLeft.withUnsafeBufferPointer { defaultLeft in
                            for t in trees {
                                var node = Int(roots[t])
                                while left[node] >= 0 {
                                    let value = row[Int(feature[node])]
                                    if value.isNaN {
                                        node = Int(defaultLeft[node] ? left[node] : right[node])
                                    } else {
                                        node = Int(value < condition[node] ? left[node] : right[node])
                                    }
                                }
                                sum += condition[node]
                            }
                        }
                    }
                }
            }
        }
        return sum
    }

    /// The objective's output for `row` over every tree (a probability for the logistic objective).
    public func value(_ row: UnsafeBufferPointer<Float>) -> Float {
        let m = margin(row, trees: 0..<treeCount)
        switch objective {
        // XGBoost's Sigmoid: the exponent clamped at 88.7 (expf stays finite), in float32.
        case .logistic: return 1 / (expf(min(-m, 88.7)) + 1)
        case .squaredError: return m
        }
    }
}
