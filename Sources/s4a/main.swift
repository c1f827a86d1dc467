import S4ACLI
await S4ACommand.runMain()
