public import Foundation
import ScalperCore

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
/// - A node is 16 bytes holding both children's byte offsets, so a step is: read the split's
///   value, compare, and pick one of two offsets (a conditional move, never a branch: a
///   mispredicted branch per level would cost more than the whole step) — five instructions.
/// - A leaf is its own left and right child (its value sits where a split keeps its condition),
///   so every tree of a group takes the same number of steps, the group's greatest depth, with
///   no test for a leaf.
/// - Trees are walked eight at a time: eight independent chains of loads keep the core busy while
///   each waits for memory. Their leaves are then added one by one in tree order, as XGBoost adds.
/// - A row whose read values are all finite (nearly every row) takes the short step; a missing
///   value's default direction costs three more instructions only where a value can be missing.
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

    /// One node: the split condition (a leaf's value in a leaf), the split feature, 1 where a
    /// missing value goes left (2 marks a leaf), and the byte offsets of the two children in the
    /// node array (a leaf's own offset twice).
    struct Node: Sendable {
        var condition: Float
        var feature: UInt16
        var defaultLeft: UInt16
        var left: UInt32
        var right: UInt32
        /// Whether the node is a leaf.
        var isLeaf: Bool { defaultLeft == 2 }
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
    /// Each tree's root: its byte offset in `nodes`.
    private let roots: [UInt32]
    /// Each tree's depth (steps from the root to its deepest leaf).
    private let depths: [Int32]
    /// The features some split reads, ascending: a row whose values there are all finite takes
    /// the short step.
    private let used: [Int32]

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
        var roots: [UInt32] = []
        var depths: [Int32] = []
        let nodeCount = trees.reduce(0) { $0 + (($1["left_children"] as? [Any])?.count ?? 0) }
        guard nodeCount < Int(UInt32.max) / MemoryLayout<Node>.stride else {
            throw JSONModelError(why: "\(nodeCount) nodes: too many to evaluate in Swift")
        }
        nodes.reserveCapacity(nodeCount)
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
            // Breadth first from the root (a level's nodes side by side).
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
            let stride = UInt32(MemoryLayout<Node>.stride)
            for (position, node) in order.enumerated() {
                let at = UInt32(base + position) * stride
                if left[node] < 0 {
                    nodes.append(Node(condition: condition[node], feature: 0, defaultLeft: 2, left: at, right: at))
                } else {
                    nodes.append(
                        Node(
                            condition: condition[node], feature: UInt16(feature[node]), defaultLeft: defaultLeft[node] ? 1 : 0,
                            left: UInt32(placed[left[node]]) * stride, right: UInt32(placed[right[node]]) * stride
                        )
                    )
                }
            }
            roots.append(UInt32(base) * stride)
            depths.append(Int32(depth))
        }
        used = Set(nodes.lazy.filter { !$0.isLeaf }.map { Int32($0.feature) }).sorted()
        self.nodes = nodes
        self.roots = roots
        self.depths = depths
    }

    /// Calls `body` with the feature and condition of every split node, tree after tree.
    public func forEachSplit(_ body: (_ feature: Int, _ condition: Float) -> Void) {
        for node in nodes where !node.isLeaf { body(Int(node.feature), node.condition) }
    }

    /// The margin of `row` (``featureCount`` values, NaN missing) over `trees`, as XGBoost sums it:
    /// the base margin, then each tree's leaf in order, in float32.
    public func margin(_ row: UnsafeBufferPointer<Float>, trees: Range<Int>) -> Float {
        precondition(row.count == featureCount, "a row of \(row.count) values for a model of \(featureCount) features")
        precondition(trees.lowerBound >= 0 && trees.upperBound <= treeCount, "trees \(trees) of \(treeCount)")
        var sum = baseMargin
        withTables { t in
            let values = row.baseAddress!
            if Self.isFinite(values, t) {
                Self.accumulate(FiniteValues.self, t, row: values, trees: trees) { sum += $0 }
            } else {
                Self.accumulate(AnyValues.self, t, row: values, trees: trees) { sum += $0 }
            }
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
            let values = row.baseAddress!
            let finite = Self.isFinite(values, t)
            for (k, slice) in slices.enumerated() {
                var part = baseMargin
                func add(_ leaf: Float) {
                    total += leaf
                    part += leaf
                }
                if finite {
                    Self.accumulate(FiniteValues.self, t, row: values, trees: slice, add)
                } else {
                    Self.accumulate(AnyValues.self, t, row: values, trees: slice, add)
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
        let workers = count >= Self.parallelRows ? min(ComputeThreads.count, blocks) : 1
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
        var nodes: UnsafeRawPointer
        var roots: UnsafePointer<UInt32>
        var depths: UnsafePointer<Int32>
        var used: UnsafeBufferPointer<Int32>

        /// The node at byte offset `offset`.
        @inline(__always)
        func node(_ offset: UInt32) -> Node { nodes.load(fromByteOffset: Int(offset), as: Node.self) }
    }

    @inline(__always)
    private func withTables<R>(_ body: (Tables) -> R) -> R {
        nodes.withUnsafeBytes { n in
            roots.withUnsafeBufferPointer { r in
                depths.withUnsafeBufferPointer { d in
                    used.withUnsafeBufferPointer { u in
                        body(Tables(nodes: n.baseAddress!, roots: r.baseAddress!, depths: d.baseAddress!, used: u))
                    }
                }
            }
        }
    }

    /// Whether every value a split reads is finite: then the short step gives the same child.
    @inline(__always)
    static func isFinite(_ row: UnsafePointer<Float>, _ t: Tables) -> Bool {
        var finite = true
        for f in t.used { finite = finite && row[Int(f)].isFinite }
        return finite
    }

    /// One step down the trees: from the node at byte offset `at` to one of its children.
    protocol StepRule {
        static func step(_ at: UInt32, _ t: Tables, _ row: UnsafePointer<Float>) -> UInt32
    }

    /// The step for any row: left when the value is below the condition, or missing where the
    /// default is left; a leaf's children are itself. The flags are integers, so the choice is a
    /// conditional move rather than a branch.
    enum AnyValues: StepRule {
        @inline(__always)
        static func step(_ at: UInt32, _ t: Tables, _ row: UnsafePointer<Float>) -> UInt32 {
            let node = t.node(at)
            let value = row[Int(node.feature)]
            let below = UInt16(unsafeBitCast(value < node.condition, to: UInt8.self))
            let missing = UInt16(unsafeBitCast(value.isNaN, to: UInt8.self))
            return (below | (missing & node.defaultLeft)) != 0 ? node.left : node.right
        }
    }

    /// The step for a row whose read values are all finite: left when below the condition.
    enum FiniteValues: StepRule {
        @inline(__always)
        static func step(_ at: UInt32, _ t: Tables, _ row: UnsafePointer<Float>) -> UInt32 {
            let node = t.node(at)
            return row[Int(node.feature)] < node.condition ? node.left : node.right
        }
    }

    /// Walks `trees` for one row with `rule` and hands each leaf value to `add`, in tree order.
    @inline(__always)
    static func accumulate<Rule: StepRule>(
        _ rule: Rule.Type,
        _ t: Tables,
        row: UnsafePointer<Float>,
        trees: Range<Int>,
        _ add: (Float) -> Void
    ) {
        var first = trees.lowerBound
        let end = trees.upperBound
        // Groups of eight: independent chains of loads.
        while end - first >= group {
            var i0 = t.roots[first], i1 = t.roots[first + 1], i2 = t.roots[first + 2], i3 = t.roots[first + 3]
            var i4 = t.roots[first + 4], i5 = t.roots[first + 5], i6 = t.roots[first + 6], i7 = t.roots[first + 7]
            var depth: Int32 = 0
            for k in first..<(first + group) { depth = max(depth, t.depths[k]) }
            for _ in 0..<depth {
                i0 = Rule.step(i0, t, row)
                i1 = Rule.step(i1, t, row)
                i2 = Rule.step(i2, t, row)
                i3 = Rule.step(i3, t, row)
                i4 = Rule.step(i4, t, row)
                i5 = Rule.step(i5, t, row)
                i6 = Rule.step(i6, t, row)
                i7 = Rule.step(i7, t, row)
            }
            add(t.node(i0).condition)
            add(t.node(i1).condition)
            add(t.node(i2).condition)
            add(t.node(i3).condition)
            add(t.node(i4).condition)
            add(t.node(i5).condition)
            add(t.node(i6).condition)
            add(t.node(i7).condition)
            first += group
        }
        // The last few trees as one more group, its empty places walking the last tree again;
        // only the real trees' leaves are added.
        let left = end - first
        guard left > 0 else { return }
        let last = end - 1
        var i0 = t.roots[first], i1 = t.roots[min(first + 1, last)], i2 = t.roots[min(first + 2, last)]
        var i3 = t.roots[min(first + 3, last)], i4 = t.roots[min(first + 4, last)], i5 = t.roots[min(first + 5, last)]
        var i6 = t.roots[min(first + 6, last)]
        var depth: Int32 = 0
        for k in first..<end { depth = max(depth, t.depths[k]) }
        for _ in 0..<depth {
            i0 = Rule.step(i0, t, row)
            i1 = Rule.step(i1, t, row)
            i2 = Rule.step(i2, t, row)
            i3 = Rule.step(i3, t, row)
            i4 = Rule.step(i4, t, row)
            i5 = Rule.step(i5, t, row)
            i6 = Rule.step(i6, t, row)
        }
        add(t.node(i0).condition)
        if left > 1 { add(t.node(i1).condition) }
        if left > 2 { add(t.node(i2).condition) }
        if left > 3 { add(t.node(i3).condition) }
        if left > 4 { add(t.node(i4).condition) }
        if left > 5 { add(t.node(i5).condition) }
        if left > 6 { add(t.node(i6).condition) }
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
        withUnsafeTemporaryAllocation(of: Bool.self, capacity: count) { finite in
            for r in 0..<count {
                out[r] = base
                finite[r] = isFinite(rows + r * columns, t)
            }
            var first = 0
            while first < treeCount {
                let trees = first..<min(treeCount, first + group)
                for r in 0..<count {
                    var sum = out[r]
                    if finite[r] {
                        accumulate(FiniteValues.self, t, row: rows + r * columns, trees: trees) { sum += $0 }
                    } else {
                        accumulate(AnyValues.self, t, row: rows + r * columns, trees: trees) { sum += $0 }
                    }
                    out[r] = sum
                }
                first = trees.upperBound
            }
        }
    }
}

/// A pointer handed to the worker threads of one batch, each writing its own rows.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
