public import Foundation

/// What ``JSONModelCheck/check(_:)`` found in a saved JSON model.
public struct JSONModelSummary: Equatable, Sendable {
    /// Input columns the model expects (`learner_model_param.num_feature`).
    public var featureCount: Int
    /// Trees the model holds.
    public var treeCount: Int
    /// The learning objective (`objective.name`, e.g. `binary:logistic`).
    public var objective: String
}

/// Why bytes are not a complete JSON model; ``why`` is one line for a user.
public struct JSONModelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong, e.g. `not valid JSON (unexpected end of data)`.
    public var why: String

    /// Creates an error.
    public init(why: String) { self.why = why }

    /// ``why``.
    public var description: String { why }
}

/// A structural check of a tree model saved as JSON (XGBoost 1.7's schema), made before the bytes
/// reach XGBoost.
///
/// XGBoost trusts a model file's internal consistency. On Debian's 1.7.4 (checked): a file whose
/// `tree_info` is shorter than `trees` kills the process with SIGSEGV inside `XGBoosterLoadModel`; a
/// child index or split feature out of range loads without complaint and is then read out of bounds
/// at prediction time; a truncated file is refused, but with a message carrying the library's C++
/// stack trace. This check refuses all of these with one sentence, so only a well-formed tree model
/// is handed to the library.
public enum JSONModelCheck {
    /// Checks `data` and returns the model's shape.
    ///
    /// - Throws: ``JSONModelError`` naming the first problem found.
    public static func check(_ data: Data) throws(JSONModelError) -> JSONModelSummary {
        guard !data.isEmpty else { throw JSONModelError(why: "empty file") }
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw JSONModelError(why: "not valid JSON (\(jsonSyntaxProblem(error))); the file is truncated or damaged")
        }
        let document = try object(root, "the top level")
        let version = try array(document["version"], "version")
        guard version.count == 3, version.allSatisfy({ $0 is NSNumber }) else {
            throw JSONModelError(why: "version is not [major, minor, patch]: not an XGBoost JSON model")
        }
        let learner = try object(document["learner"], "learner")
        let parameters = try object(learner["learner_model_param"], "learner.learner_model_param")
        let featureCount = try integer(parameters["num_feature"], "learner.learner_model_param.num_feature")
        guard featureCount > 0 else { throw JSONModelError(why: "learner.learner_model_param.num_feature is \(featureCount)") }
        let objectiveObject = try object(learner["objective"], "learner.objective")
        guard let objective = objectiveObject["name"] as? String else {
            throw JSONModelError(why: "learner.objective.name is missing")
        }
        let booster = try object(learner["gradient_booster"], "learner.gradient_booster")
        let kind = booster["name"] as? String ?? "(missing)"
        guard kind == "gbtree" else {
            throw JSONModelError(why: "learner.gradient_booster.name is '\(kind)'; only tree models (gbtree) are supported")
        }
        let model = try object(booster["model"], "learner.gradient_booster.model")
        let modelParameters = try object(model["gbtree_model_param"], "gbtree_model_param")
        let declared = try integer(modelParameters["num_trees"], "gbtree_model_param.num_trees")
        let trees = try array(model["trees"], "trees")
        let treeInfo = try array(model["tree_info"], "tree_info")
        guard trees.count == declared else {
            throw JSONModelError(why: "gbtree_model_param.num_trees says \(declared) trees but the file holds \(trees.count)")
        }
        guard treeInfo.count == declared else {
            throw JSONModelError(why: "tree_info has \(treeInfo.count) entries for \(declared) trees")
        }
        for (index, tree) in trees.enumerated() {
            try checkTree(tree, index: index, featureCount: featureCount)
        }
        return JSONModelSummary(featureCount: featureCount, treeCount: declared, objective: objective)
    }

    /// One tree: every per-node array has one entry per node, children point inside the tree (a
    /// leaf has none), and each split reads an existing feature with a finite threshold.
    private static func checkTree(_ value: Any, index: Int, featureCount: Int) throws(JSONModelError) {
        let name = "trees[\(index)]"
        let tree = try object(value, name)
        let parameters = try object(tree["tree_param"], "\(name).tree_param")
        let nodeCount = try integer(parameters["num_nodes"], "\(name).tree_param.num_nodes")
        guard nodeCount > 0 else { throw JSONModelError(why: "\(name) has \(nodeCount) nodes") }
        func column(_ key: String) throws(JSONModelError) -> [Any] {
            let values = try array(tree[key], "\(name).\(key)")
            guard values.count == nodeCount else {
                throw JSONModelError(why: "\(name).\(key) has \(values.count) entries for \(nodeCount) nodes")
            }
            return values
        }
        let left = try column("left_children")
        let right = try column("right_children")
        let features = try column("split_indices")
        let conditions = try column("split_conditions")
        for key in ["parents", "default_left", "split_type", "base_weights", "loss_changes", "sum_hessian"] {
            _ = try column(key)
        }
        for node in 0..<nodeCount {
            guard let l = (left[node] as? NSNumber)?.intValue, let r = (right[node] as? NSNumber)?.intValue else {
                throw JSONModelError(why: "\(name) node \(node): a child index is not a number")
            }
            guard let threshold = (conditions[node] as? NSNumber)?.doubleValue, threshold.isFinite else {
                throw JSONModelError(why: "\(name) node \(node): split_conditions is not a finite number")
            }
            if l == -1 && r == -1 { continue }  // a leaf; its value is in split_conditions
            // Node 0 is the root, so no node has it as a child.
            guard (1..<nodeCount).contains(l), (1..<nodeCount).contains(r), l != node, r != node, l != r else {
                throw JSONModelError(why: "\(name) node \(node): children \(l) and \(r) are not other nodes of this \(nodeCount)-node tree")
            }
            guard let feature = (features[node] as? NSNumber)?.intValue, feature >= 0, feature < featureCount else {
                throw JSONModelError(why: "\(name) node \(node): split feature \(features[node]) is not one of the \(featureCount) features")
            }
        }
    }

    private static func object(_ value: Any?, _ path: String) throws(JSONModelError) -> [String: Any] {
        guard let value else { throw JSONModelError(why: "\(path) is missing") }
        guard let object = value as? [String: Any] else { throw JSONModelError(why: "\(path) is not an object") }
        return object
    }

    private static func array(_ value: Any?, _ path: String) throws(JSONModelError) -> [Any] {
        guard let value else { throw JSONModelError(why: "\(path) is missing") }
        guard let array = value as? [Any] else { throw JSONModelError(why: "\(path) is not an array") }
        return array
    }

    /// XGBoost writes model parameters as strings (`"num_feature": "42"`).
    private static func integer(_ value: Any?, _ path: String) throws(JSONModelError) -> Int {
        guard let value else { throw JSONModelError(why: "\(path) is missing") }
        if let text = value as? String, let number = Int(text) { return number }
        if let number = value as? NSNumber { return number.intValue }
        throw JSONModelError(why: "\(path) is not an integer")
    }

    /// Foundation's own sentence for a JSON syntax error (its debug description names the position).
    private static func jsonSyntaxProblem(_ error: any Error) -> String {
        let nsError = error as NSError
        if let detail = nsError.userInfo[NSDebugDescriptionErrorKey] as? String, !detail.isEmpty {
            return detail.trimmingCharacters(in: CharacterSet(charactersIn: ". "))
        }
        return nsError.localizedDescription.trimmingCharacters(in: CharacterSet(charactersIn: ". "))
    }
}
