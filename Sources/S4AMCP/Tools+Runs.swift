import MCP
import S4AClient
import S4AContract

extension ToolCatalogue {
    static let runTools: [ToolDefinition] = [
        ToolDefinition(
            name: "exec",
            description: """
                Run a shell command (`/bin/sh -c`) inside a running server and wait for it: returns the exit \
                code, stdout and stderr (each cut at 1 MiB). The whole process tree is killed at the timeout. \
                Secrets are in the environment. For servers, apps and anything long-running use deploy, or \
                background=true and read its output with get_logs.
                """,
            scopes: ["servers:exec"],
            inputSchema: JSONSchema.object([
                "server_id": serverID,
                "command": JSONSchema.string("The command line, e.g. `ls -la /srv && python3 --version`.", maxLength: 65536),
                "cwd": JSONSchema.string("Working directory inside the server (default /root)."),
                "timeout": JSONSchema.integer("Seconds before the command is killed (default 60).", minimum: 1, maximum: 3600),
                "stdin": JSONSchema.string("Text given to the command on standard input.", maxLength: 1_048_576),
                "env": JSONSchema.stringMap("Extra environment variables for this command."),
                "background": JSONSchema.boolean("Leave it running under the server's supervisor and return at once; its output goes to the logs."),
            ], required: ["server_id", "command"]),
            annotations: Tool.Annotations(readOnlyHint: false, destructiveHint: true, openWorldHint: true)
        ) { arguments, connection in
            let background = arguments.optionalBool("background") ?? false
            if background, arguments.optionalInt("timeout") != nil {
                throw ToolInputError("'timeout' does not apply to a background command.")
            }
            let env = arguments.stringMap("env").map(Components.Schemas.ExecRequest.EnvPayload.init(additionalProperties:))
            let body = Components.Schemas.ExecRequest(
                command: try arguments.string("command"), cwd: arguments.optionalString("cwd"), env: env,
                stdin: arguments.optionalString("stdin"), timeoutS: arguments.optionalInt("timeout"),
                background: background ? true : nil)
            let server = try await References.serverID(try arguments.string("server_id"), connection)
            switch try await connection.client.execInServer(path: .init(serverId: server), body: .json(body)) {
            case .ok(let ok): return Self.describe(try ok.body.json)
            case .accepted(let accepted):
                let run = try accepted.body.json
                return ToolOutput(text: "Running in the background as \(run.id); read its output with get_logs on \(server).")
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
        ToolDefinition(
            name: "stop_run",
            description: """
                End a background command for good: it and every process it started are killed and it is not \
                restarted. A server runs at most 200 background commands at once; stopping one frees its slot.
                """,
            scopes: ["servers:exec"],
            inputSchema: JSONSchema.object([
                "server_id": serverID,
                "run_id": JSONSchema.string("The run's id (run_…), as exec with background=true returned it."),
            ], required: ["server_id", "run_id"]),
            annotations: Tool.Annotations(readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false)
        ) { arguments, connection in
            switch try await connection.client.cancelRun(path: .init(serverId: try await References.serverID(try arguments.string("server_id"), connection),
                                                                   runId: try arguments.string("run_id"))) {
            case .ok(let ok):
                let run = try ok.body.json
                return ToolOutput(text: "\(run.id) is \(run.state.rawValue)" + (run.exitCode.map { " (exit code \($0))" } ?? "") + ".")
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
        ToolDefinition(
            name: "deploy",
            description: """
                Run a server's app: the command is started under a supervisor, restarted by policy, with PORT \
                set to the port and the secrets injected; it replaces the previous deployment. The app must \
                listen on 127.0.0.1 or 0.0.0.0 at $PORT. Then attach the server to its project so the \
                project's URL serves it. Check on it with get_server and get_logs.
                """,
            scopes: ["servers:exec"],
            inputSchema: JSONSchema.object([
                "server_id": serverID,
                "command": JSONSchema.string("The command, run by sh -c, e.g. `python3 /srv/app.py`.", maxLength: 10000),
                "port": JSONSchema.integer("The port the app listens on, also given as $PORT (default 8080).", minimum: 1, maximum: 65535),
                "health_path": JSONSchema.string("A path probed over HTTP for health, e.g. /healthz (default: a TCP connect).",
                                                 maxLength: 1000),
                "restart": JSONSchema.string("When to restart it (default always).", oneOf: ["always", "on-failure", "never"]),
                "wait": JSONSchema.boolean("Wait (up to 30 s, the default) until the app answers on its port; a failure says why."),
            ], required: ["server_id", "command"]),
            annotations: Tool.Annotations(readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true)
        ) { arguments, connection in
            let body = Components.Schemas.DeploymentCreate(
                command: try arguments.string("command"), port: arguments.optionalInt("port"),
                healthPath: arguments.optionalString("health_path"),
                restart: arguments.optionalString("restart").flatMap(Components.Schemas.DeploymentCreate.RestartPayload.init(rawValue:)),
                wait: arguments.optionalBool("wait"))
            switch try await connection.client.deployServer(path: .init(serverId: try await References.serverID(try arguments.string("server_id"), connection)),
                                                            body: .json(body)) {
            case .created(let created): return try .json(try created.body.json, note: "Deployed:")
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
    ]

    /// Exit code first, then each stream under its own heading.
    static func describe(_ result: Components.Schemas.ExecResult) -> ToolOutput {
        var text = "exit_code: \(result.exitCode)\nended_by: \(result.endedBy.rawValue)\nrun_id: \(result.runId)\n"
            + "duration_ms: \(result.durationMs)\n"
        if result.timedOut { text += "timed_out: true (the command's processes were killed)\n" }
        if let hint = result.hint { text += "hint: \(hint)\n" }
        if result.truncated { text += "truncated: true (output past 1 MiB per stream was cut)\n" }
        text += "--- stdout ---\n\(result.stdout)"
        if !result.stdout.isEmpty, !result.stdout.hasSuffix("\n") { text += "\n" }
        text += "--- stderr ---\n\(result.stderr)"
        return ToolOutput(text: text)
    }
}
