import Foundation
import OpenAPIRuntime
import S4AContract
import S4ADomain

extension APIHandler {
    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        .ok(.init(body: .json(.init(status: "ok"))))
    }

    func getOpenAPIDocument(_ input: Operations.GetOpenAPIDocument.Input) async throws -> Operations.GetOpenAPIDocument.Output {
        .ok(.init(body: .json(documentObject)))
    }

    /// Prometheus text; the auth middleware lets only the operator through (`x-s4a-scope: operator`).
    func getMetrics(_ input: Operations.GetMetrics.Input) async throws -> Operations.GetMetrics.Output {
        return .ok(.init(body: .plainText(HTTPBody(metrics.render()))))
    }
}
