public import Foundation

/// A tree model compiled from its saved JSON into flat node arrays and evaluated in Swift, with no
/// call into XGBoost: the scoring path of backtests and sessions.
///
/// Each call of the C API costs ≈ 24 µs before it reads a tree (it parses a JSON configuration and
/// an array interface, and makes a proxy matrix), and XGBoost 1.7's predictor then takes ≈ 4–9 µs
/// a row. Here a row costs well under a microsecond, and the result is XGBoost's bit for bit (the
/// tests compare them on every row of a real month, missing values included): the same float32
/// sum in tree order starting from the base margin, the same split rule (`value < condition` goes
/// left, a missing value follows the default child), the same sigmoid in float32.
///
/// How it is fast:
/// - Each tree is laid out breadth-first with a node's two children side by side, so a step is
///   one 12-byte load and `next = left + goesRight`, computed without a branch (a mispredicted
///   branch per level would cost more than the whole step).
/// - A leaf points to itself and never goes right (its condition is NaN and its default is left:
///   `value >= NaN` is false for every value), so every tree of a group takes the same number of
///   steps — the group's greatest depth — with no test for a leaf.
/// - Trees are walked eight at a time: eight independent chains of loads keep the core busy while
///   each waits for memory. Their leaves are then added one by one in tree order, as XGBoost adds.
/// - Batches walk a block of rows tree group by tree group (the group's nodes stay in the L1
///   cache), and long batches split their blocks over the cores.
public struct TreeEnsemble: Sendable {
    /// The objectives it evaluates.
    public enum Objective: String, Sendable {
        /// Probability: sigmoid of the margin.
        case logistic = "binary:logistic"
        /// The margin itself.
        case squaredError = "reg:squarederror"
    }

    /// One node: the split condition (NaN in a leaf), the index of the left child (the right one
    /// follows it; a leaf's own index), the split feature, and 1 where a missing value goes left.
    struct Node: Sendable {
        var condition: Float
        var left: Int32
        var feature: UInt16
        var defaultLeft: UInt16
    }

    /// The objective.
    public let objective: Objective
    /// Trees held.
    public let treeCount: Int
    /// Input columns.
    public let featureCount: Int
    /// The margin every row starts from (float32, as XGBoost keeps it).
    public let baseMargin: Float
    /// All trees' nodes, tree after tree.
    private let nodes: [Node]
    /// Per node: the leaf's value (0 for a split node).
    private let leafValue: [Float]
    /// Each tree's root in `nodes`.
    private let roots: [Int32]
    /// Each tree's depth (steps from the root to its deepest leaf).
    private let depths: [Int32]

    /// Trees walked together for one row.
    static let group = 8
    /// Rows walked together tree group by tree group in a batch.
    static let block = 32
    /// Rows from which a batch is split over the cores.
    public static let parallelRows = 8_192

    /// Reads a JSON model (XGBoost 1.7's schema: a saved `model.json`, or
    /// ``Booster/serialized(format:)``).
    ///
    /// - Throws: ``JSONModelError`` for a document it cannot evaluate exactly (another objective,
    ///   categorical splits, several trees a round, a node reached twice) — the caller then keeps
    ///   to the C API.
    public init(json data: Data) throws(JSONModelError) {
        let summary = try JSONModelCheck.check(data)
        guard let objective = Objective(rawValue: summary.objective) else {
            throw JSONModelError(why: "objective \(summary.objective) is not evaluated in Swift")
        }
        guard summary.featureCount <= Int(UInt16.max) else {
            throw JSONModelError(why: "\(summary.featureCount) features: at most \(UInt16.max) are evaluated in Swift")
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
        var nodes: [Node] = []
        var leafValue: [Float] = []
        var roots: [Int32] = []
        var depths: [Int32] = []
        for (index, tree) in trees.enumerated() {
            if let types = tree["split_type"] as? [NSNumber], types.contains(where: { $0.intValue != 0 }) {
                throw JSONModelError(why: "trees[\(index)] has a categorical split: not evaluated in Swift")
            }
            // JSONModelCheck has checked every column's length and type, and every child index.
            let left = (tree["left_children"] as? [NSNumber] ?? []).map(\.intValue)
            let right = (tree["right_children"] as? [NSNumber] ?? []).map(\.intValue)
            let feature = (tree["split_indices"] as? [NSNumber] ?? []).map(\.intValue)
            // The text is float32's shortest round-trip form: through Double to Float is exact.
            let condition = (tree["split_conditions"] as? [NSNumber] ?? []).map { Float($0.doubleValue) }
            let defaultLeft = (tree["default_left"] as? [NSNumber] ?? []).map { $0.intValue != 0 }
            // Breadth first from the root; each split's children get two adjacent places.
            let base = nodes.count
            var placed = [Int](repeating: -1, count: left.count)  // original node → new index
            var order = [0]  // original nodes in their new order
            var depthOf = [0]
            placed[0] = base
            var i = 0
            var depth = 0
            while i < order.count {
                let node = order[i]
                if left[node] >= 0 {
                    for child in [left[node], right[node]] {
                        guard placed[child] < 0 else {
                            throw JSONModelError(why: "trees[\(index)] node \(child) is reached twice: not a tree")
                        }
                        placed[child] = base + order.count
                        order.append(child)
                        depthOf.append(depthOf[i] + 1)
                    }
                }
                depth = max(depth, depthOf[i])
                i += 1
            }
            for (position, node) in order.enumerated() {
                let at = Int32(base + position)
                if left[node] < 0 {
                    nodes.append(Node(condition: .nan, left: at, feature: 0, defaultLeft: 1))
                    leafValue.append(condition[node])
                } else {
                    nodes.append(
                        Node(
                            condition: condition[node], left: Int32(placed[left[node]]), feature: UInt16(feature[node]),
                            defaultLeft: defaultLeft[node] ? 1 : 0
                        )
                    )
                    leafValue.append(0)
                }
            }
            roots.append(Int32(base))
            depths.append(Int32(depth))
        }
        guard nodes.count < Int(Int32.max) else { throw JSONModelError(why: "\(nodes.count) nodes: too many to evaluate in Swift") }
        self.nodes = nodes
        self.leafValue = leafValue
        self.roots = roots
        self.depths = depths
    }

    /// Calls `body` with the feature and condition of every split node, tree after tree.
    public func forEachSplit(_ body: (_ feature: Int, _ condition: Float) -> Void) {
        for node in nodes where !node.condition.isNaN { body(Int(node.feature), node.condition) }
    }

    /// The margin of `row` (``featureCount`` values, NaN missing) over `trees`, as XGBoost sums it:
    /// the base margin, then each tree's leaf in order, in float32.
    public func margin(_ row: UnsafeBufferPointer<Float>, trees: Range<Int>) -> Float {
        precondition(row.count == featureCount, "a row of \(row.count) values for a model of \(featureCount) features")
        precondition(trees.lowerBound >= 0 && trees.upperBound <= treeCount, "trees \(trees) of \(treeCount)")
        var sum = baseMargin
        withTables { t in
            Self.accumulate(t, row: row.baseAddress!, trees: trees) { sum += $0 }
        }
        return sum
    }

    /// The objective's output for `row` over every tree (a probability for the logistic objective).
    public func value(_ row: UnsafeBufferPointer<Float>) -> Float {
        output(margin(row, trees: 0..<treeCount))
    }

    /// The objective's output for a margin.
    @inline(__always)
    public func output(_ margin: Float) -> Float {
        switch objective {
        // XGBoost's Sigmoid: the exponent clamped at 88.7 (expf stays finite), in float32.
        case .logistic: 1 / (expf(min(-margin, 88.7)) + 1)
        case .squaredError: margin
        }
    }

    /// In one pass over every tree: the margin over all trees (returned), and in `sliceMargins[k]`
    /// the margin over `slices[k]` alone (each from the base margin, as XGBoost's margin over an
    /// iteration range). `slices` must cover the trees in order without overlap.
    public func margins(
        _ row: UnsafeBufferPointer<Float>,
        slices: [Range<Int>],
        into sliceMargins: UnsafeMutableBufferPointer<Float>
    ) -> Float {
        precondition(row.count == featureCount, "a row of \(row.count) values for a model of \(featureCount) features")
        precondition(sliceMargins.count == slices.count, "\(slices.count) slices, \(sliceMargins.count) places")
        precondition(slices.first?.lowerBound ?? 0 == 0 && slices.last?.upperBound ?? 0 == treeCount, "slices must cover the trees")
        var total = baseMargin
        withTables { t in
            for (k, slice) in slices.enumerated() {
                var part = baseMargin
                Self.accumulate(t, row: row.baseAddress!, trees: slice) { leaf in
                    total += leaf
                    part += leaf
                }
                sliceMargins[k] = part
            }
        }
        return total
    }

    /// The margins over every tree of `count` rows stored one after another in `rows` (each
    /// ``featureCount`` values), written to `out`; long batches use every core.
    public func margins(rows: UnsafeBufferPointer<Float>, count: Int, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(rows.count == count * featureCount && out.count >= count, "\(rows.count) values for \(count) rows of \(featureCount)")
        guard count > 0 else { return }
        let blocks = (count + Self.block - 1) / Self.block
        let workers = count >= Self.parallelRows ? min(ProcessInfo.processInfo.activeProcessorCount, blocks) : 1
        let target = UncheckedSendable(out.baseAddress!)
        let source = UncheckedSendable(rows.baseAddress!)
        let columns = featureCount
        let run: @Sendable (Int) -> Void = { [self] worker in
            withTables { t in
                var b = worker
                while b < blocks {
                    let first = b * Self.block
                    let n = min(Self.block, count - first)
                    Self.blockMargins(
                        t, rows: source.value + first * columns, count: n, columns: columns,
                        base: baseMargin, treeCount: treeCount, into: target.value + first
                    )
                    b += workers
                }
            }
        }
        if workers == 1 {
            run(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: workers, execute: run)
        }
    }

    // MARK: - The walk

    /// The arrays as raw pointers for one evaluation.
    struct Tables {
        var nodes: UnsafePointer<Node>
        var leaves: UnsafePointer<Float>
        var roots: UnsafePointer<Int32>
        var depths: UnsafePointer<Int32>
    }

    @inline(__always)
    private func withTables<R>(_ body: (Tables) -> R) -> R {
        nodes.withUnsafeBufferPointer { n in
            leafValue.withUnsafeBufferPointer { l in
                roots.withUnsafeBufferPointer { r in
                    depths.withUnsafeBufferPointer { d in
                        body(Tables(nodes: n.baseAddress!, leaves: l.baseAddress!, roots: r.baseAddress!, depths: d.baseAddress!))
                    }
                }
            }
        }
    }

    /// One step down from node `i` for `row`: the left child, or the one after it when the value
    /// is not below the condition — or is missing and the default is right.
    @inline(__always)
    static func step(_ i: Int32, _ nodes: UnsafePointer<Node>, _ row: UnsafePointer<Float>) -> Int32 {
        let node = nodes[Int(i)]
        let value = row[Int(node.feature)]
        // Without a missing value both say "not below"; with one, only `notBelow` is true.
        let atLeast: Int32 = value >= node.condition ? 1 : 0
        let notBelow: Int32 = value < node.condition ? 0 : 1
        return node.left &+ (node.defaultLeft != 0 ? atLeast : notBelow)
    }

    /// Walks `trees` for one row and hands each leaf value to `add`, in tree order.
    @inline(__always)
    static func accumulate(_ t: Tables, row: UnsafePointer<Float>, trees: Range<Int>, _ add: (Float) -> Void) {
        var first = trees.lowerBound
        let end = trees.upperBound
        // Groups of eight: independent chains of loads.
        while end - first >= group {
            var i0 = t.roots[first], i1 = t.roots[first + 1], i2 = t.roots[first + 2], i3 = t.roots[first + 3]
            var i4 = t.roots[first + 4], i5 = t.roots[first + 5], i6 = t.roots[first + 6], i7 = t.roots[first + 7]
            var depth: Int32 = 0
            for k in first..<(first + group) { depth = max(depth, t.depths[k]) }
            for _ in 0..<depth {
                i0 = step(i0, t.nodes, row)
                i1 = step(i1, t.nodes, row)
                i2 = step(i2, t.nodes, row)
                i3 = step(i3, t.nodes, row)
                i4 = step(i4, t.nodes, row)
                i5 = step(i5, t.nodes, row)
                i6 = step(i6, t.nodes, row)
                i7 = step(i7, t.nodes, row)
            }
            add(t.leaves[Int(i0)])
            add(t.leaves[Int(i1)])
            add(t.leaves[Int(i2)])
            add(t.leaves[Int(i3)])
            add(t.leaves[Int(i4)])
            add(t.leaves[Int(i5)])
            add(t.leaves[Int(i6)])
            add(t.leaves[Int(i7)])
            first += group
        }
        while first < end {
            var i = t.roots[first]
            for _ in 0..<t.depths[first] { i = step(i, t.nodes, row) }
            add(t.leaves[Int(i)])
            first += 1
        }
    }

    /// Margins of a block of rows over every tree, tree group by tree group so that a group's
    /// nodes stay in cache across the block; each row's sum still runs in tree order.
    static func blockMargins(
        _ t: Tables,
        rows: UnsafePointer<Float>,
        count: Int,
        columns: Int,
        base: Float,
        treeCount: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<count { out[r] = base }
        var first = 0
        while first < treeCount {
            let trees = first..<min(treeCount, first + group)
            for r in 0..<count {
                var sum = out[r]
                accumulate(t, row: rows + r * columns, trees: trees) { sum += $0 }
                out[r] = sum
            }
            first = trees.upperBound
        }
    }
}

/// A pointer handed to the worker threads of one batch, each writing its own rows.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
