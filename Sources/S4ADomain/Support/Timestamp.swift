import Foundation

/// How the domain writes a time in what it exports (activity lines, the account archive, drain
/// records): RFC 3339 in UTC with exactly the millisecond the store keeps. A formatter's
/// fraction truncates the binary double (41.194 s can print as 41.193), which breaks
/// recomputing an activity hash from the text. (`S4AContract`'s transcoder does the same for
/// the API; it stays apart because the client side does not link the domain.)
public enum Timestamp {
    public static func rfc3339(_ date: Date) -> String {
        // Years 1…9999, what RFC 3339 can write: a time out of range (or not a number) never traps.
        let raw = (date.timeIntervalSince1970 * 1000).rounded()
        let millis = raw.isFinite ? Int64(min(max(raw, -62_135_769_600_000), 253_402_300_799_999)) : 0
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(Date.ISO8601FormatStyle())
        return String(whole.dropLast()) + String(format: ".%03dZ", Int(millis - seconds * 1000))
    }
}
