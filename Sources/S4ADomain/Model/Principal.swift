import Foundation

/// Who is making a request: a person through a session, or an agent through an API key.
public struct Principal: Sendable, Equatable {
    public enum Credential: Sendable, Equatable {
        case session(Session)
        case apiKey(APIKey)
    }

    public var accountID: String
    public var credential: Credential

    public init(accountID: String, credential: Credential) {
        self.accountID = accountID
        self.credential = credential
    }

    public var actor: Actor {
        switch credential {
        case .session: Actor(type: .account, id: accountID)
        case .apiKey(let key): Actor(type: .apiKey, id: key.id)
        }
    }

    public var apiKey: APIKey? {
        if case .apiKey(let key) = credential { return key }
        return nil
    }

    public var isSession: Bool { apiKey == nil }

    public var scopes: Set<Scope> { apiKey?.scopes ?? Set(Scope.allCases) }

    /// nil when every project of the account is in reach.
    public var projectIDs: Set<String>? { apiKey?.projectIDs }

    public func canReach(projectID: String) -> Bool {
        projectIDs.map { $0.contains(projectID) } ?? true
    }

    /// The projects a read covers (nil: all of the account's), narrowed to `projectID` when given;
    /// one not in reach is not found.
    public func projects(narrowedTo projectID: String?) throws -> Set<String>? {
        guard let projectID else { return projectIDs }
        guard canReach(projectID: projectID) else { throw DomainError(.notFound, "No such project.") }
        return [projectID]
    }

    /// Throws unless this principal meets `requirement`.
    public func check(_ requirement: Requirement) throws {
        switch requirement {
        case .publicAccess, .anyPrincipal: return
        case .operator, .link: throw DomainError.notFound
        case .session:
            guard isSession else { throw DomainError(.forbidden, "This operation needs a signed-in person, not an API key.") }
        case .scope(let scope):
            guard scopes.contains(scope) else {
                throw DomainError(.insufficientScope, "This operation needs the \(scope.rawValue) scope.")
            }
        }
    }
}
