import S4AClient
import S4AContract

/// The scopes of the caller's credentials, asked of the API (`GET /v1/api-keys/current`):
/// tools are offered by them; the API still checks every call itself.
enum KeyScopes {
    static func of(_ connection: APIConnection) async throws -> Set<String> {
        switch try await connection.client.getCurrentCredential() {
        case .ok(let ok): return Set(try ok.body.json.scopes.map(\.rawValue))
        case .default(let status, let problem): throw APIProblem(status: status, problem)
        }
    }
}
