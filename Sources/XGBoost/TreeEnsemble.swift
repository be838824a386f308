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
    /// The same trees padded to perfect trees, for batches (nil when a tree is deeper than
    /// ``maximumPerfectDepth``, or when the maker asked for the node walk alone).
    private let perfect: PerfectTrees?

    /// Trees walked together for one row.
    static let group = 8
    /// Rows walked together tree group by tree group in a batch (the node walk).
    static let block = 32
    /// Rows walked together tree by tree in a batch (the perfect-tree walk): one lane each.
    static let lanes = 16
    /// Levels from the root that the perfect-tree walk takes for all lanes with vector compares.
    static let vectorLevels = 3
    /// The deepest tree padded to a perfect tree: 2¹⁰ leaves, 12 KB a tree at most.
    public static let maximumPerfectDepth = 10
    /// Rows from which a batch is split over the cores.
    public static let parallelRows = 8_192

    /// Reads a JSON model (XGBoost 1.7's schema: a saved `model.json`, or
    /// ``Booster/serialized(format:)``).
    ///
    /// - Throws: ``JSONModelError`` for a document it cannot evaluate exactly (another objective,
    ///   categorical splits, several trees a round, a node reached twice) — the caller then keeps
    ///   to the C API.
    /// - Parameter perfectTrees: whether batches may walk the trees padded to perfect trees (the
    ///   default; `false` keeps every batch on the node walk, which the tests compare with it).
    public init(json data: Data, perfectTrees: Bool = true) throws(JSONModelError) {
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
        var padded = PerfectTrees.Builder()
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
            if perfectTrees && depth <= Self.maximumPerfectDepth {
                padded.add(depth: depth, left: left, right: right, feature: feature, condition: condition)
            }
        }
        used = Set(nodes.lazy.filter { !$0.isLeaf }.map { Int32($0.feature) }).sorted()
        perfect = padded.trees == trees.count ? padded.build() : nil
        self.nodes = nodes
        self.roots = roots
        self.depths = depths
    }

    /// Whether batches walk the trees padded to perfect trees (see ``init(json:perfectTrees:)``).
    public var walksPerfectTrees: Bool { perfect != nil }

    /// Calls `body` with every tree's depth (steps from its root to its deepest leaf), in order.
    public func forEachTree(_ body: (_ depth: Int) -> Void) {
        for depth in depths { body(Int(depth)) }
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
        // Sums held inside the walk's closure and handed to it as closure literals: a nested
        // function capturing them would make each access a checked one.
        return withTables { t -> Float in
            let values = row.baseAddress!
            let finite = Self.isFinite(values, t)
            var total = baseMargin
            for k in 0..<slices.count {
                var part = baseMargin
                if finite {
                    Self.accumulate(FiniteValues.self, t, row: values, trees: slices[k]) { total += $0; part += $0 }
                } else {
                    Self.accumulate(AnyValues.self, t, row: values, trees: slices[k]) { total += $0; part += $0 }
                }
                sliceMargins[k] = part
            }
            return total
        }
    }

    /// The margins over every tree of `count` rows stored one after another in `rows` (each
    /// ``featureCount`` values), written to `out`; long batches use every core.
    public func margins(rows: UnsafeBufferPointer<Float>, count: Int, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(rows.count == count * featureCount && out.count >= count, "\(rows.count) values for \(count) rows of \(featureCount)")
        guard count > 0 else { return }
        // The perfect-tree walk takes whole blocks of lanes; the node walk takes the rest (a
        // short batch, a batch's last rows) rather than spare lanes.
        let size = perfect == nil ? Self.block : Self.lanes
        let blocks = perfect == nil ? (count + size - 1) / size : count / size
        let workers = count >= Self.parallelRows ? min(ComputeThreads.count, blocks) : 1
        let target = UncheckedSendable(out.baseAddress!)
        let source = UncheckedSendable(rows.baseAddress!)
        let columns = featureCount
        let run: @Sendable (Int) -> Void = { [self] worker in
            withTables { t in
                if let perfect {
                    perfect.withTables { p in
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: columns * Self.lanes) { lanes in
                            var b = worker
                            while b < blocks {
                                let first = b * size
                                Self.perfectMargins(
                                    p, t, rows: source.value + first * columns, columns: columns,
                                    lanes: lanes.baseAddress!, base: baseMargin, treeCount: treeCount, into: target.value + first
                                )
                                b += workers
                            }
                        }
                    }
                    return
                }
                var b = worker
                while b < blocks {
                    let first = b * size
                    let n = min(size, count - first)
                    Self.blockMargins(
                        t, rows: source.value + first * columns, count: n, columns: columns,
                        base: baseMargin, treeCount: treeCount, into: target.value + first
                    )
                    b += workers
                }
            }
        }
        if workers == 1 {
            if blocks > 0 { run(0) }
        } else {
            DispatchQueue.concurrentPerform(iterations: workers, execute: run)
        }
        if perfect != nil && blocks * size < count {
            let first = blocks * size
            withTables { t in
                Self.blockMargins(
                    t, rows: source.value + first * columns, count: count - first, columns: columns,
                    base: baseMargin, treeCount: treeCount, into: target.value + first
                )
            }
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
            // Both children in one register, the choice a conditional move on the compare's flags
            // (an indexed load of the chosen child would add a load's latency to every step).
            let children = t.nodes.load(fromByteOffset: Int(at) &+ 8, as: UInt64.self)
            let left = UInt32(truncatingIfNeeded: children)
            let right = UInt32(truncatingIfNeeded: children &>> 32)
            return row[Int(node.feature)] < node.condition ? left : right
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

    // MARK: - The perfect-tree walk (batches)

    /// Margins of ``lanes`` rows over every tree on the perfect trees: the rows are laid
    /// out value by value in `lanes` (feature `f` of lane `k` at `f × lanes + k`), and each tree is
    /// walked by all lanes together — sixteen independent chains of two loads, a compare and an
    /// add, with no child offsets to load (a node's children sit at `2i + 1` and `2i + 2`), after
    /// the top ``vectorLevels`` levels taken for all lanes with vector compares. Rows with a missing or
    /// infinite value that a split reads are walked again on the nodes, where the default
    /// direction is known, and their margins replaced.
    static func perfectMargins(
        _ p: PerfectTrees.Tables,
        _ t: Tables,
        rows: UnsafePointer<Float>,
        columns: Int,
        lanes: UnsafeMutablePointer<Float>,
        base: Float,
        treeCount: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        for k in 0..<Self.lanes {
            let row = rows + k * columns
            for f in 0..<columns { lanes[f * Self.lanes + k] = row[f] }
        }
        // Lanes holding a value that is not finite (v − v is NaN for NaN and ±∞), in any column.
        var finite = SIMDMask<SIMD16<Int32>>(repeating: true)
        for f in 0..<columns {
            let v = UnsafeRawPointer(lanes + f * Self.lanes).loadUnaligned(as: SIMD16<Float>.self)
            finite .&= (v - v) .== SIMD16<Float>(repeating: 0)
        }
        for k in 0..<Self.lanes { out[k] = base }
        laneMargins(p, values: UnsafePointer(lanes), treeCount: treeCount, into: out)
        for r in 0..<Self.lanes where !finite[r] && !isFinite(rows + r * columns, t) {
            var sum = base
            accumulate(AnyValues.self, t, row: rows + r * columns, trees: 0..<treeCount) { sum += $0 }
            out[r] = sum
        }
    }

    /// One step of one lane: left (`2i + 1`) when the lane's value is below the split's
    /// condition, else right (`2i + 2`).
    @inline(__always)
    static func laneStep(_ i: inout Int, _ splits: UnsafePointer<PerfectTrees.Split>, _ values: UnsafePointer<Float>, _ lane: Int) {
        let split = splits[i]
        let below = values[Int(split.column) &+ lane] < split.condition
        i = i &* 2 &+ 2 &- Int(unsafeBitCast(below, to: UInt8.self))
    }

    /// Adds every tree's leaf, in tree order, to each lane's sum in `acc`.
    static func laneMargins(_ p: PerfectTrees.Tables, values: UnsafePointer<Float>, treeCount: Int, into acc: UnsafeMutablePointer<Float>) {
        for tree in 0..<treeCount {
            let splits = p.splits + Int(p.splitStart[tree])
            let depth = Int(p.depth[tree])
            // The top levels for all lanes at once: a level of 2^l splits costs 2^l vector
            // compares of the sixteen lanes' values, against sixteen scalar steps.
            let top = min(depth, Self.vectorLevels)
            var place = SIMD16<Int32>(repeating: 0)
            if top > 0 {
                // The root: every lane is there.
                let split = splits[0]
                let lanes = UnsafeRawPointer(values + Int(split.column)).loadUnaligned(as: SIMD16<Float>.self)
                place = SIMD16<Int32>(repeating: 2) &+ unsafeBitCast(lanes .< SIMD16<Float>(repeating: split.condition), to: SIMD16<Int32>.self)
            }
            for level in min(1, top)..<top {
                var below = SIMD16<Int32>(repeating: 0)
                for node in ((1 << level) - 1)..<((2 << level) - 1) {
                    let split = splits[node]
                    let lanes = UnsafeRawPointer(values + Int(split.column)).loadUnaligned(as: SIMD16<Float>.self)
                    let here = place .== SIMD16<Int32>(repeating: Int32(node))
                    let left = lanes .< SIMD16<Float>(repeating: split.condition)
                    below |= unsafeBitCast(here .& left, to: SIMD16<Int32>.self)
                }
                // below is −1 where a lane goes left: 2i + 2 − 1.
                place = place &* 2 &+ 2 &+ below
            }
            var i0 = Int(place[0]), i1 = Int(place[1]), i2 = Int(place[2]), i3 = Int(place[3])
            var i4 = Int(place[4]), i5 = Int(place[5]), i6 = Int(place[6]), i7 = Int(place[7])
            var i8 = Int(place[8]), i9 = Int(place[9]), i10 = Int(place[10]), i11 = Int(place[11])
            var i12 = Int(place[12]), i13 = Int(place[13]), i14 = Int(place[14]), i15 = Int(place[15])
            for _ in top..<depth {
                laneStep(&i0, splits, values, 0)
                laneStep(&i1, splits, values, 1)
                laneStep(&i2, splits, values, 2)
                laneStep(&i3, splits, values, 3)
                laneStep(&i4, splits, values, 4)
                laneStep(&i5, splits, values, 5)
                laneStep(&i6, splits, values, 6)
                laneStep(&i7, splits, values, 7)
                laneStep(&i8, splits, values, 8)
                laneStep(&i9, splits, values, 9)
                laneStep(&i10, splits, values, 10)
                laneStep(&i11, splits, values, 11)
                laneStep(&i12, splits, values, 12)
                laneStep(&i13, splits, values, 13)
                laneStep(&i14, splits, values, 14)
                laneStep(&i15, splits, values, 15)
            }
            // After `depth` steps i is a leaf's place among the 2^depth − 1 splits' successors.
            let leaves = p.leaves + Int(p.leafStart[tree]) - ((1 << Int(depth)) - 1)
            acc[0] += leaves[i0]
            acc[1] += leaves[i1]
            acc[2] += leaves[i2]
            acc[3] += leaves[i3]
            acc[4] += leaves[i4]
            acc[5] += leaves[i5]
            acc[6] += leaves[i6]
            acc[7] += leaves[i7]
            acc[8] += leaves[i8]
            acc[9] += leaves[i9]
            acc[10] += leaves[i10]
            acc[11] += leaves[i11]
            acc[12] += leaves[i12]
            acc[13] += leaves[i13]
            acc[14] += leaves[i14]
            acc[15] += leaves[i15]
        }
    }
}

/// The trees padded to perfect trees of their own depth: a tree of depth d keeps 2^d − 1 splits
/// in breadth-first order (the children of split i at 2i + 1 and 2i + 2) and 2^d leaves. A leaf
/// above the bottom becomes splits that send every finite value left (condition +∞) over copies
/// of its value in every leaf below it, so whichever way a value goes there, the leaf is the same.
struct PerfectTrees: Sendable {
    /// A split: its condition, and where its feature's value sits in a block of lanes
    /// (feature × ``TreeEnsemble/lanes``).
    struct Split: Sendable {
        var condition: Float
        var column: UInt32
    }

    let splits: [Split]
    let leaves: [Float]
    /// Each tree's first split and first leaf, and its depth.
    let splitStart: [UInt32]
    let leafStart: [UInt32]
    let depth: [UInt32]

    /// The arrays as raw pointers for one evaluation.
    struct Tables {
        var splits: UnsafePointer<Split>
        var leaves: UnsafePointer<Float>
        var splitStart: UnsafePointer<UInt32>
        var leafStart: UnsafePointer<UInt32>
        var depth: UnsafePointer<UInt32>
    }

    @inline(__always)
    func withTables<R>(_ body: (Tables) -> R) -> R {
        splits.withUnsafeBufferPointer { s in
            leaves.withUnsafeBufferPointer { l in
                splitStart.withUnsafeBufferPointer { ss in
                    leafStart.withUnsafeBufferPointer { ls in
                        depth.withUnsafeBufferPointer { d in
                            // A model of single-leaf trees has no split: point at a leaf instead.
                            body(
                                Tables(
                                    splits: s.baseAddress ?? UnsafeRawPointer(l.baseAddress!).assumingMemoryBound(to: Split.self),
                                    leaves: l.baseAddress!, splitStart: ss.baseAddress!, leafStart: ls.baseAddress!, depth: d.baseAddress!
                                )
                            )
                        }
                    }
                }
            }
        }
    }

    /// Collects the padded trees one by one.
    struct Builder {
        var splits: [PerfectTrees.Split] = []
        var leaves: [Float] = []
        var splitStart: [UInt32] = []
        var leafStart: [UInt32] = []
        var depth: [UInt32] = []
        var trees: Int { depth.count }

        /// Adds one tree (XGBoost's columns: a leaf's `left` is −1 and its condition is its value).
        mutating func add(depth d: Int, left: [Int], right: [Int], feature: [Int], condition: [Float]) {
            let firstSplit = splits.count
            let firstLeaf = leaves.count
            splitStart.append(UInt32(firstSplit))
            leafStart.append(UInt32(firstLeaf))
            depth.append(UInt32(d))
            splits += repeatElement(Split(condition: .infinity, column: 0), count: (1 << d) - 1)
            leaves += repeatElement(0, count: 1 << d)
            // (original node, place in the perfect tree, level)
            var work = [(0, 0, 0)]
            while let (node, place, level) = work.popLast() {
                if level == d {
                    leaves[firstLeaf + place - ((1 << d) - 1)] = condition[node]
                } else if left[node] < 0 {
                    work.append((node, 2 * place + 1, level + 1))
                    work.append((node, 2 * place + 2, level + 1))
                } else {
                    splits[firstSplit + place] = Split(condition: condition[node], column: UInt32(feature[node] * TreeEnsemble.lanes))
                    work.append((left[node], 2 * place + 1, level + 1))
                    work.append((right[node], 2 * place + 2, level + 1))
                }
            }
        }

        func build() -> PerfectTrees {
            PerfectTrees(splits: splits, leaves: leaves, splitStart: splitStart, leafStart: leafStart, depth: depth)
        }
    }
}

/// A pointer handed to the worker threads of one batch, each writing its own rows.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
