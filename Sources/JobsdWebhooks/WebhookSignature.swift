import CCrypto

/// The `Jobsd-Signature` header: `sha256=` and the lower-case hex HMAC-SHA256 of the exact body
/// bytes, keyed with the UTF-8 bytes of `--webhook-secret`, computed by OpenSSL's libcrypto.
/// A receiver recomputes it over the raw body it read (before any JSON parsing) and compares in
/// constant time, e.g. `hmac.compare_digest` in Python.
public enum WebhookSignature {
    public static func header(secret: String, body: [UInt8]) -> String {
        let key = Array(secret.utf8)
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // An empty buffer has no base address: libcrypto gets a valid pointer with length 0.
        let dummy: [UInt8] = [0]
        let ok = (key.isEmpty ? dummy : key).withUnsafeBytes { keyBytes in
            (body.isEmpty ? dummy : body).withUnsafeBufferPointer { data in
                digest.withUnsafeMutableBufferPointer { out in
                    HMAC(EVP_sha256(), keyBytes.baseAddress, Int32(key.count), data.baseAddress, body.count, out.baseAddress, &length) != nil
                }
            }
        }
        precondition(ok, "libcrypto HMAC-SHA256 failed")
        return "sha256=" + digest.prefix(Int(length)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
