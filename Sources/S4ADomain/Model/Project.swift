import Foundation

public enum Visibility: String, Sendable, Codable {
    case `private`, `public`
}

public struct Project: Sendable, Equatable {
    public var id: String
    public var accountID: String
    public var name: String
    /// Fixed at creation: the project's URL never changes.
    public var slug: String
    public var visibility: Visibility
    public var createdAt: Date
    public var updatedAt: Date
    /// The server behind the project's URL, if any.
    public var attachedServerID: String?

    public init(id: String, accountID: String, name: String, slug: String, visibility: Visibility,
                createdAt: Date, updatedAt: Date, attachedServerID: String? = nil) {
        self.attachedServerID = attachedServerID
        self.id = id
        self.accountID = accountID
        self.name = name
        self.slug = slug
        self.visibility = visibility
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
