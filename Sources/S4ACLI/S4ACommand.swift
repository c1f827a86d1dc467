import ArgumentParser

/// `s4a`: the control plane (`serve`) and the client commands, in one binary.
public struct S4ACommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "s4a",
        abstract: "Server4Agent: real servers for AI agents, with hard budgets and private-by-default URLs.",
        discussion: """
        Start the platform:   s4a serve
        Sign in (a person):   s4a login --email you@example.com
        Give an agent a key:  s4a key create --name agent --scope servers:exec
        Make a project:       s4a project create "My app"
        Give it a server:     s4a server create --project <slug> --name web \\
                                --budget-usd 5
        Run something there:  s4a exec <server-id> -- python3 -c 'print(42)'
        Publish (humans):     s4a project publish <slug>
        See what happened:    s4a activity

        Client commands read S4A_API_URL, S4A_API_KEY and S4A_CA_CERT, else what
        `s4a login` saved in ~/.config/s4a/config.json. Add --json for machines.
        Exit codes: 0 ok, 1 failed, 2 usage; `s4a exec` passes the command's on.
        """,
        version: S4AVersion.current,
        subcommands: [
            ServeCommand.self, SignupCommand.self, LoginCommand.self, LogoutCommand.self, WhoamiCommand.self,
            AccountCommand.self, KeyCommand.self, ProjectCommand.self, ServerCommand.self, ExecCommand.self,
            RunsCommand.self, RunCommand.self, FilesCommand.self, ShellCommand.self, LogsCommand.self, DrainCommand.self, SecretCommand.self,
            DeployCommand.self, AttachCommand.self, DetachCommand.self, OpenCommand.self, UptimeCommand.self,
            UsageCommand.self, ActivityCommand.self, MCPCommand.self, HealthCommand.self, MetricsCommand.self,
            OpenAPICommand.self, CompletionCommand.self, TemplateCommand.self, RuntimeCommand.self, BenchCommand.self,
            VaultCommand.self, SuperviseCommand.self,
        ])

    public init() {}
}
