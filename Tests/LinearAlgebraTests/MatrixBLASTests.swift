import LinearAlgebra
import ScalperTestSupport
import Testing

func randomMatrix<S: MatrixScalar>(_ rows: Int, _ columns: Int, _ rng: inout SplitMix64) -> Matrix<S>
where S.RawSignificand: FixedWidthInteger {
    Matrix(rows: rows, columns: columns, storage: (0..<(rows * columns)).map { _ in S.random(in: -2...2, using: &rng) })
}

/// Plain triple loop in Double, the oracle for gemm.
func naiveProduct<S: MatrixScalar>(_ a: [[S]], _ b: [[S]], rows: Int, inner: Int, columns: Int) -> [[Double]] {
    (0..<rows).map { i in
        (0..<columns).map { j in
            var s = 0.0
            for k in 0..<inner { s += Double(a[i][k]) * Double(b[k][j]) }
            return s
        }
    }
}

func close<S: MatrixScalar>(_ x: S, _ y: Double, scale: Double) -> Bool {
    let tolerance = S.self == Float.self ? 1e-4 : 1e-12
    return abs(Double(x) - y) <= tolerance * max(1, scale)
}

/// Shapes that include empty and single-column/row cases.
let shapes: [(Int, Int, Int)] = [
    (0, 3, 4), (3, 0, 4), (3, 4, 0), (1, 1, 1), (5, 1, 1), (1, 7, 1), (7, 1, 5), (4, 6, 3), (17, 9, 13), (33, 64, 2),
]

@Suite("Matrix BLAS operations agree with plain loops")
struct MatrixBLASTests {
    @Test("gemm matches a triple loop for every transpose combination", arguments: shapes)
    func gemmMatchesLoop(shape: (Int, Int, Int)) {
        let (m, k, n) = shape
        var rng = SplitMix64(seed: UInt64(m * 1000 + k * 10 + n))
        for (ta, tb) in [(Transpose.none, Transpose.none), (.transposed, .none), (.none, .transposed), (.transposed, .transposed)] {
            let a: Matrix<Double> = ta == .none ? randomMatrix(m, k, &rng) : randomMatrix(k, m, &rng)
            let b: Matrix<Double> = tb == .none ? randomMatrix(k, n, &rng) : randomMatrix(n, k, &rng)
            let opA = ta == .none ? a.rowArrays : a.transposed().rowArrays
            let opB = tb == .none ? b.rowArrays : b.transposed().rowArrays
            var c: Matrix<Double> = randomMatrix(m, n, &rng)
            let c0 = c
            Matrix.gemm(alpha: 0.5, a: a, transposeA: ta, b: b, transposeB: tb, beta: -1.5, into: &c)
            let expected = naiveProduct(opA, opB, rows: m, inner: k, columns: n)
            for i in 0..<m {
                for j in 0..<n {
                    #expect(close(c[i, j], 0.5 * expected[i][j] - 1.5 * c0[i, j], scale: Double(k)))
                }
            }
        }
    }

    @Test("Float gemm matches the loop too", arguments: shapes)
    func floatGemm(shape: (Int, Int, Int)) {
        let (m, k, n) = shape
        var rng = SplitMix64(seed: 7)
        let a: Matrix<Float> = randomMatrix(m, k, &rng)
        let b: Matrix<Float> = randomMatrix(k, n, &rng)
        let c = a.multiplied(by: b)
        #expect(c.rows == m && c.columns == n)
        let expected = naiveProduct(a.rowArrays, b.rowArrays, rows: m, inner: k, columns: n)
        for i in 0..<m { for j in 0..<n { #expect(close(c[i, j], expected[i][j], scale: Double(k))) } }
    }

    @Test("gemv matches a loop, plain and transposed", arguments: shapes)
    func gemvMatchesLoop(shape: (Int, Int, Int)) {
        let (m, n, _) = shape
        var rng = SplitMix64(seed: 11)
        let a: Matrix<Double> = randomMatrix(m, n, &rng)
        let x = (0..<n).map { _ in Double.random(in: -1...1, using: &rng) }
        let y = a.multiplied(by: x)
        #expect(y.count == m)
        for i in 0..<m {
            var s = 0.0
            for j in 0..<n { s += a[i, j] * x[j] }
            #expect(close(y[i], s, scale: Double(n)))
        }
        let xt = (0..<m).map { _ in Double.random(in: -1...1, using: &rng) }
        var yt = [Double](repeating: 1, count: n)
        a.gemv(alpha: 2, .transposed, xt, beta: 3, into: &yt)
        for j in 0..<n {
            var s = 0.0
            for i in 0..<m { s += a[i, j] * xt[i] }
            #expect(close(yt[j], 2 * s + 3, scale: Double(m)))
        }
    }

    @Test("dot, axpy and scal match loops", arguments: [0, 1, 2, 17, 1000])
    func levelOne(count: Int) {
        var rng = SplitMix64(seed: UInt64(count + 3))
        let x = (0..<count).map { _ in Double.random(in: -1...1, using: &rng) }
        var y = (0..<count).map { _ in Double.random(in: -1...1, using: &rng) }
        let y0 = y
        var loopDot = 0.0
        for i in 0..<count { loopDot += x[i] * y[i] }
        #expect(close(Vector.dot(x, y), loopDot, scale: Double(count)))
        Vector.axpy(-0.25, x, &y)
        for i in 0..<count { #expect(close(y[i], y0[i] - 0.25 * x[i], scale: 1)) }
        var z = x
        Vector.scale(&z, by: 3)
        for i in 0..<count { #expect(close(z[i], 3 * x[i], scale: 1)) }
        let xf = x.map(Float.init)
        let yf = y0.map(Float.init)
        var loopDotF = 0.0
        for i in 0..<count { loopDotF += Double(xf[i]) * Double(yf[i]) }
        #expect(close(Vector.dot(xf, yf), loopDotF, scale: Double(count)))
    }

    @Test("Scaling by zero clears NaN, as the documentation promises")
    func scaleByZero() {
        var x: [Double] = [.nan, 1, -2]
        Vector.scale(&x, by: 0)
        #expect(x == [0, 0, 0])
    }

    @Test("Matrix add uses axpy and column dot uses strided BLAS")
    func matrixLevelOne() {
        var rng = SplitMix64(seed: 5)
        var a: Matrix<Double> = randomMatrix(9, 4, &rng)
        let b: Matrix<Double> = randomMatrix(9, 4, &rng)
        let a0 = a
        a.add(b, scaledBy: 2)
        for i in 0..<9 { for j in 0..<4 { #expect(close(a[i, j], a0[i, j] + 2 * b[i, j], scale: 1)) } }
        var s = 0.0
        for i in 0..<9 { s += a[i, 1] * a[i, 3] }
        #expect(close(a.columnDot(1, 3), s, scale: 9))
        let empty = Matrix<Double>(rows: 0, columns: 3)
        #expect(empty.columnDot(0, 2) == 0)
    }
}

@Suite("Matrix views, statistics and rolling windows")
struct MatrixStatisticsTests {
    @Test("Rows and columns are views of the same storage")
    func views() {
        let m = Matrix<Double>(rowArrays: [[1, 2, 3], [4, 5, 6]])
        #expect(Array(m.row(1)) == [4, 5, 6])
        #expect(Array(m.column(2)) == [3, 6])
        #expect(m.row(1).startIndex == 3)  // a slice of the storage, not a copy with its own indices
        #expect(m.transposed().rowArrays == [[1, 4], [2, 5], [3, 6]])
        var n = m
        n.withMutableRow(0) { row in row[row.startIndex + 1] = 20 }
        #expect(n[0, 1] == 20 && m[0, 1] == 2)
        #expect(m.rows(at: [1, 0]).rowArrays == [[4, 5, 6], [1, 2, 3]])
    }

    @Test("Column means and standard deviations match loops", arguments: [(0, 3), (1, 4), (6, 1), (50, 7)])
    func columnStatistics(shape: (Int, Int)) {
        let (r, c) = shape
        var rng = SplitMix64(seed: UInt64(r * 31 + c))
        let m: Matrix<Double> = randomMatrix(r, c, &rng)
        let means = m.columnMeans()
        let stats = m.columnStatistics(ddof: 1)
        for j in 0..<c {
            let col = (0..<r).map { m[$0, j] }
            if r == 0 {
                #expect(means[j].isNaN)
                continue
            }
            let mean = col.reduce(0, +) / Double(r)
            #expect(close(means[j], mean, scale: 1))
            let variance = col.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(r - 1)
            if r > 1 { #expect(close(stats.standardDeviations[j], variance.squareRoot(), scale: 1)) } else {
                #expect(stats.standardDeviations[j].isNaN)
            }
        }
    }

    @Test("Statistics can skip NaN, and a constant column has a standard deviation of exactly 0")
    func nanAndConstant() {
        let m = Matrix<Double>(rowArrays: [[1, 3.1], [.nan, 3.1], [3, 3.1]])
        let s = m.columnStatistics(ignoringNaN: true)
        #expect(s.counts == [2, 3])
        #expect(s.means[0] == 2)
        #expect(s.standardDeviations[1] == 0)
        let (z, _) = m.standardized()
        #expect(z[0, 0] == -1 && z[2, 0] == 1 && z[1, 0].isNaN)
        #expect(z[0, 1] == 0)  // constant column is only centred
    }

    @Test("Rolling sum, mean, std, min and max match window loops", arguments: [1, 3, 20])
    func rolling(window: Int) {
        var rng = SplitMix64(seed: UInt64(window))
        var x = (0..<300).map { _ in Double.random(in: 1...2, using: &rng) }
        x[150] = .nan
        for i in 200..<230 { x[i] = 1.5 }  // a flat stretch
        let sum = Rolling.sum(x, window: window)
        let mean = Rolling.mean(x, window: window)
        let std = Rolling.standardDeviation(x, window: window)
        let lo = Rolling.minimum(x, window: window)
        let hi = Rolling.maximum(x, window: window)
        for t in x.indices {
            guard t >= window - 1 else {
                #expect(sum[t].isNaN && lo[t].isNaN && hi[t].isNaN && std[t].isNaN)
                continue
            }
            let w = Array(x[(t - window + 1)...t])
            if w.contains(where: \.isNaN) {
                #expect(sum[t].isNaN && mean[t].isNaN && std[t].isNaN && lo[t].isNaN && hi[t].isNaN)
                continue
            }
            let s = w.reduce(0, +)
            #expect(close(sum[t], s, scale: Double(window)))
            #expect(close(mean[t], s / Double(window), scale: 1))
            let mu = s / Double(window)
            let sd = (w.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(window)).squareRoot()
            #expect(close(std[t], sd, scale: 1))
            #expect(lo[t] == w.min() && hi[t] == w.max())
        }
        if window == 20 { #expect(std[229] == 0) }
    }
}
