import Foundation

/// How the domain writes a time in what it exports (activity lines, the account archive, drain
/// records): RFC 3339 in UTC with exactly the millisecond the store keeps. A formatter's
/// fraction truncates the binary double (41.194 s can print as 41.193), which breaks
/// recomputing an activity hash from the text. (`S4AContract`'s transcoder does the same for
/// the API; it stays apart because the client side does not link the domain.)
public enum Timestamp {
    public static func rfc3339(_ date: Date) -> String {
        let millis = date.epochMilliseconds
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(Date.ISO8601FormatStyle())
        return String(whole.dropLast()) + String(format: ".%03dZ", Int(millis - seconds * 1000))
    }
}

extension Date {
    /// Milliseconds since 1970, clamped to the years 0001…9999 (not-a-number as 1970): the one
    /// way a time becomes an integer, so that a time from outside (a file a server made, a
    /// client's query) can never trap a conversion.
    public var epochMilliseconds: Int64 {
        let value = timeIntervalSince1970 * 1000
        guard value.isFinite else { return 0 }
        return Int64(Swift.min(Swift.max(value, Self.earliestMilliseconds), Self.latestMilliseconds).rounded())
    }

    /// 0001-01-01T00:00:00Z as Foundation writes it (its calendar is Julian before 1582) and
    /// 9999-12-31T23:59:59.999Z: what RFC 3339 can write.
    static let earliestMilliseconds: Double = -62_135_769_600_000
    static let latestMilliseconds: Double = 253_402_300_799_999
}
