extension Array {
    /// The first index whose element is not `belongs`, by binary search: the elements that are
    /// must all come first (a sorted array and a "less than" test, say).
    public func partitionPoint(_ belongs: (Element) -> Bool) -> Int {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if belongs(self[mid]) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
