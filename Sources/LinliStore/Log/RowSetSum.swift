import Crypto
import Foundation

/// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a pseudorandom function
/// of a 128-bit key and a short message, 64 bits out. ``RowSetSum`` keys it with a secret drawn for the
/// process, so that nobody who wrote a store beforehand can aim at the values it gives.
struct SipHash24 {
    let k0: UInt64
    let k1: UInt64

    /// A key drawn from the system's random number generator.
    static func random() -> SipHash24 {
        var generator = SystemRandomNumberGenerator()
        return SipHash24(k0: generator.next(), k1: generator.next())
    }

    /// The 64-bit SipHash-2-4 of `message`: its bytes taken as little-endian words, the last one padded with
    /// zeros and the message's length in its top byte.
    func hash(_ message: UnsafeRawBufferPointer) -> UInt64 {
        var v0 = k0 ^ 0x736f_6d65_7073_6575, v1 = k1 ^ 0x646f_7261_6e64_6f6d
        var v2 = k0 ^ 0x6c79_6765_6e65_7261, v3 = k1 ^ 0x7465_6462_7974_6573
        @inline(__always) func round() {
            v0 &+= v1; v1 = v1.rotatedLeft(13); v1 ^= v0; v0 = v0.rotatedLeft(32)
            v2 &+= v3; v3 = v3.rotatedLeft(16); v3 ^= v2
            v0 &+= v3; v3 = v3.rotatedLeft(21); v3 ^= v0
            v2 &+= v1; v1 = v1.rotatedLeft(17); v1 ^= v2; v2 = v2.rotatedLeft(32)
        }
        @inline(__always) func compress(_ word: UInt64) {
            v3 ^= word
            round()
            round()
            v0 ^= word
        }
        let whole = message.count & ~7
        var offset = 0
        while offset < whole {
            compress(UInt64(littleEndian: message.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            offset += 8
        }
        var last = UInt64(truncatingIfNeeded: message.count) << 56
        for index in whole..<message.count { last |= UInt64(message[index]) << (8 * UInt64(index - whole)) }
        compress(last)
        v2 ^= 0xff
        for _ in 0..<4 { round() }
        return v0 ^ v1 ^ v2 ^ v3
    }
}

extension UInt64 {
    @inline(__always) fileprivate func rotatedLeft(_ count: UInt64) -> UInt64 { self << count | self >> (64 - count) }
}

/// What a set of rows comes to whatever order they are added in, in bounded memory: the sum an audit
/// compares for a table of one row per key (``AppendOnlyLayout/oneRowPerKey``: the deliveries), instead of
/// a sorted list of every row's fingerprint (16 bytes a row on each side: over 200 MB for the deliveries
/// of a 10.75M-event store). docs/AUDIT.md says what it proves.
///
/// Each row is first fingerprinted: SHA-256 over `u32 length ‖ key ‖ u32 length ‖ value`. Two sums are kept:
/// - ``plain``: the fingerprints' four 64-bit words added lane by lane (wrapping), with the row count. It
///   is the same in every process, so the state digest built from it can be compared between machines; an
///   additive sum of public hashes can be steered by whoever chooses the rows, so it is not what proves a
///   stored table equal to the replay.
/// - ``keyed``: in each of ``bucketCount`` buckets (chosen by the fingerprint's top bits), two lanes of
///   `SipHash-2-4(secret key, first 16 bytes of the fingerprint) mod p`, with p = 2^61 − 1, added modulo p.
///   The keys are drawn at random when the process first needs them and never leave it, so rows chosen
///   beforehand cannot aim at them: for two different multisets of fingerprints, both lanes of a bucket
///   agree with probability below 2^-120. A bucket whose lanes differ names the rows to look at.
struct RowSetSum: Equatable {
    static let bucketCount = 4096
    static let prime: UInt64 = (1 << 61) - 1
    /// The lanes' keys, one per lane: secret, the same for every sum this process makes, so that the stored
    /// side and the replay can be compared.
    static let keys = (SipHash24.random(), SipHash24.random())

    /// Rows added.
    private(set) var count: UInt64 = 0
    /// The fingerprints' words, added lane by lane.
    private(set) var plain = SIMD4<UInt64>(repeating: 0)
    /// Two lanes a bucket, each modulo ``prime``; empty in a sum that is never added to.
    private(set) var keyed = [UInt64](repeating: 0, count: 2 * bucketCount)

    /// An empty sum.
    init() {}

    /// A sum that holds no buckets, for a digest of another layout that never adds to it.
    init(empty: Void) { keyed = [] }

    /// About how much memory it holds.
    var approximateBytes: Int { 8 * keyed.capacity }

    /// A row's fingerprint: its four SHA-256 words, big-endian.
    struct Fingerprint: Equatable {
        let words: SIMD4<UInt64>

        init(_ key: [UInt8], _ value: [UInt8]) {
            self = key.withUnsafeBytes { key in value.withUnsafeBytes { value in Fingerprint(key, value) } }
        }

        init(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
            var hasher = SHA256()
            ProjectionDigest.add(key, value, to: &hasher)
            words = hasher.finalize().withUnsafeBytes { raw in
                SIMD4((0..<4).map { UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)) })
            }
        }

        /// The bucket its row falls in: the fingerprint's top 12 bits.
        var bucket: Int { Int(words[0] >> 52) }
    }

    /// A bucket's index as the two big-endian bytes that name it among the parts that differ.
    static func part(_ bucket: Int) -> [UInt8] { [UInt8(bucket >> 8), UInt8(bucket & 0xFF)] }

    mutating func add(_ fingerprint: Fingerprint) {
        precondition(!keyed.isEmpty, "a sum made empty is never added to")
        count += 1
        plain &+= fingerprint.words
        var first = (fingerprint.words[0].bigEndian, fingerprint.words[1].bigEndian)
        let lanes = withUnsafeBytes(of: &first) { raw in (Self.keys.0.hash(raw) % Self.prime, Self.keys.1.hash(raw) % Self.prime) }
        let at = 2 * fingerprint.bucket
        keyed[at] = Self.addModPrime(keyed[at], lanes.0)
        keyed[at + 1] = Self.addModPrime(keyed[at + 1], lanes.1)
        precondition(keyed[at] < Self.prime && keyed[at + 1] < Self.prime, "a lane stays below p")
    }

    /// `a + b mod p` for a, b below p (2^61 − 1: their sum fits 64 bits).
    static func addModPrime(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let sum = a + b
        return sum >= prime ? sum - prime : sum
    }

    /// The buckets whose keyed lanes differ from `other`'s, as parts (``part(_:)``).
    func differing(from other: RowSetSum) -> Set<[UInt8]> {
        var out = Set<[UInt8]>()
        for bucket in 0..<Self.bucketCount where keyed[2 * bucket] != other.keyed[2 * bucket] || keyed[2 * bucket + 1] != other.keyed[2 * bucket + 1] {
            out.insert(Self.part(bucket))
        }
        return out
    }

    /// The digest that goes into the state digest: SHA-256 over the row count and the plain sum, the same
    /// wherever the same rows are summed.
    var digest: Hash {
        var hasher = SHA256()
        withUnsafeBytes(of: count.bigEndian) { hasher.update(bufferPointer: $0) }
        for lane in 0..<4 { withUnsafeBytes(of: plain[lane].bigEndian) { hasher.update(bufferPointer: $0) } }
        return hasher.finalize().withUnsafeBytes { Hash($0) }
    }
}
