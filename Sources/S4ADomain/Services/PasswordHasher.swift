import Foundation
import HummingbirdBcrypt

public protocol PasswordHasher: Sendable {
    func hash(_ password: String) async -> String
    func verify(_ password: String, hash: String) async -> Bool
}

/// bcrypt, run off the cooperative thread pool because each call takes a deliberate ~0.2 s.
public struct BcryptHasher: PasswordHasher {
    public var cost: UInt8
    public init(cost: UInt8) { self.cost = cost }

    public func hash(_ password: String) async -> String {
        await offPool { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async -> Bool {
        await offPool { Bcrypt.verify(password, hash: hash) }
    }

    private func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: work()) }
        }
    }
}

public enum PasswordPolicy {
    public static let minimumLength = 12
    /// bcrypt reads only 72 bytes; longer passwords are refused rather than silently cut.
    public static let maximumBytes = 72

    public static func check(_ password: String, field: String = "password") throws {
        // Code points, as the contract's minLength counts them.
        guard password.unicodeScalars.count >= minimumLength else {
            throw DomainError.invalid(field, "must be at least \(minimumLength) characters")
        }
        guard password.utf8.count <= maximumBytes else {
            throw DomainError.invalid(field, "must be at most \(maximumBytes) bytes")
        }
    }
}
