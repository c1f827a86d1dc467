import Foundation
import OpenAPIRuntime
import S4AContract
import S4ADomain
import S4AWeb

/// Export and deletion of the whole account (and crypto-shredding of one project's secrets).
extension APIHandler {
    func createExport(_ input: Operations.CreateExport.Input) async throws -> Operations.CreateExport.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let (token, expiresAt) = try await exports.create(try RequestScope.requirePrincipal(), password: body.password,
                                                          includeFiles: input.query.includeFiles ?? false)
        return .created(.init(body: .json(.init(downloadUrl: apiURL + "/v1/exports/" + token, expiresAt: expiresAt))))
    }

    func downloadExport(_ input: Operations.DownloadExport.Input) async throws -> Operations.DownloadExport.Output {
        let link = try await exports.claim(token: input.path.token)
        let day = link.createdAt.formatted(.iso8601.year().month().day())
        return .ok(.init(
            headers: .init(contentDisposition: "attachment; filename=\"s4a-export-\(day).tar.gz\"", cacheControl: "no-store"),
            body: .applicationGzip(ExportDownload.body(link, exports: exports))))
    }

    func deleteAccount(_ input: Operations.DeleteAccount.Input) async throws -> Operations.DeleteAccount.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let finished = try await deletion.delete(try RequestScope.requirePrincipal(), password: body.password)
        let cookie = SessionCookie.header(value: "", maxAge: 0)
        return finished ? .noContent(.init(headers: .init(setCookie: cookie))) : .accepted(.init(headers: .init(setCookie: cookie)))
    }
}
