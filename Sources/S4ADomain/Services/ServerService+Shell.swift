import Foundation

extension ServerService {
    /// What the shell runs: the server's bash as a login shell where there is one, else sh.
    static let shellCommand = ["/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi"]

    /// Checks that the principal may open a shell on a running server (before any upgrade).
    public func checkShell(_ principal: Principal, id: String) async throws -> Server {
        try principal.check(.scope(.serversExec))
        return try await runningServer(principal, id)
    }

    /// Opens a shell and records it as a run of kind `shell` (its output is the client's, not
    /// kept); `finishShell` records how it ended.
    public func openShell(_ principal: Principal, id: String, size: TerminalSize) async throws -> (Run, any ShellSession) {
        let server = try await checkShell(principal, id: id)
        let run = Run(id: RandomToken.id(.run), serverID: server.id, accountID: server.accountID, kind: Run.shell,
                      command: "shell", state: .running, exitCode: nil, stdout: "", stderr: "", truncated: false,
                      startedAt: env.now(), finishedAt: nil)
        try await env.store.write { tx in try await tx.servers.insert(run) }
        do {
            let (environment, _) = try await processEnvironment(server, [:])
            let session = try await runtime.shell(server.id, ShellRequest(argv: Self.shellCommand, env: environment, size: size))
            return (run, session)
        } catch {
            _ = try? await finish(run, exitCode: nil)
            throw DomainError.failure(.serverNotRunning, "The shell could not start.", cause: error)
        }
    }

    public func finishShell(_ run: Run, exitCode: Int32?) async throws -> Run {
        try await finish(run, exitCode: exitCode)
    }
}
