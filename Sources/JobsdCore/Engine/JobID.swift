import JobsdAPI
import Glibc
import JobsdMetrics

/// Monotonic ULIDs: 48-bit millisecond time + 80 random bits, Crockford base32, 26 characters.
/// Within one millisecond (or if the clock steps back) the random part of the previous id is
/// incremented, so ids are strictly increasing in creation order within this process.
///
/// Thread-safe: `lastTime` and `lastRandom` are guarded by `lock`.
public final class JobIDGenerator: @unchecked Sendable {
    static let shared = JobIDGenerator()

    private let lock = PThreadLock()
    private var lastTime: UInt64 = 0
    /// 80 bits: high 16 and low 64.
    private var lastRandom: (hi: UInt16, lo: UInt64) = (0, 0)

    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// True when `id` has the shape of an id this generator makes (26 characters of its
    /// alphabet), so callers can answer "unknown" without a store lookup.
    public static func isWellFormed(_ id: String) -> Bool {
        id.utf8.count == 26 && id.utf8.allSatisfy { isAlphabetByte[Int($0)] }
    }

    /// `alphabet` as a table by byte value (checked on every GET of a job, so no search).
    private static let isAlphabetByte: [Bool] = (0..<256).map { alphabet.contains(UInt8($0)) }

    func next(now: UInt64 = UInt64(Timestamp.now().milliseconds)) -> String {
        let (time, random): (UInt64, (hi: UInt16, lo: UInt64)) = lock.withLock {
            if now > lastTime {
                lastTime = now
                lastRandom = (UInt16.random(in: 0...UInt16.max), UInt64.random(in: 0...UInt64.max))
            } else {
                let (lo, carry) = lastRandom.lo.addingReportingOverflow(1)
                lastRandom = (carry ? lastRandom.hi &+ 1 : lastRandom.hi, lo)
            }
            return (lastTime, lastRandom)
        }
        return Self.encode(time: time, random: random)
    }

    static func encode(time: UInt64, random: (hi: UInt16, lo: UInt64)) -> String {
        var out = [UInt8](repeating: 0, count: 26)
        // 10 characters of time (50 bits, top 2 zero).
        for i in 0..<10 { out[9 - i] = alphabet[Int((time >> (5 * UInt64(i))) & 31)] }
        // 16 characters of randomness (80 bits).
        for i in 0..<16 {
            let shift = 5 * i
            let bits: UInt64
            if shift + 5 <= 64 {
                bits = (random.lo >> UInt64(shift)) & 31
            } else if shift >= 64 {
                bits = (UInt64(random.hi) >> UInt64(shift - 64)) & 31
            } else {
                bits = ((random.lo >> UInt64(shift)) | (UInt64(random.hi) << UInt64(64 - shift))) & 31
            }
            out[25 - i] = alphabet[Int(bits)]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
