import Foundation

/// Local files as the CLI reads and writes them, failing with what went wrong and what to do
/// (never Foundation's "Error Domain=NSCocoaErrorDomain Code=260 …").
enum LocalFiles {
    static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    static func read(_ path: String, directoryHint: String? = nil) throws -> Data {
        let manager = FileManager.default
        guard manager.fileExists(atPath: path) else {
            throw CommandFailure(message: "No such file: \(path) (relative paths start at \(manager.currentDirectoryPath)). Check the path.")
        }
        if isDirectory(path) {
            throw CommandFailure(message: "\(path) is a directory. " + (directoryHint ?? "Give a file."))
        }
        guard manager.isReadableFile(atPath: path), let data = manager.contents(atPath: path) else {
            throw CommandFailure(message: "Cannot read \(path): permission denied. Check its permissions.")
        }
        return data
    }

    static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let parent = url.deletingLastPathComponent().path
        guard isDirectory(parent) else {
            throw CommandFailure(message: "Cannot write \(path): the directory \(parent) does not exist. Make it first (mkdir -p \(parent)).")
        }
        guard !isDirectory(path) else {
            throw CommandFailure(message: "Cannot write \(path): it is a directory. Give a file name inside it.")
        }
        do {
            try data.write(to: url)
        } catch {
            throw CommandFailure(message: "Cannot write \(path): \(describe(error)). Check the directory's permissions and free space.")
        }
    }

    /// A tar archive of a local directory's contents (by the system's tar: what people would
    /// use by hand, and it keeps modes and symlinks).
    static func tar(directory: String) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tar", "-C", directory, "-cf", "-", "."]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch {
            throw CommandFailure(message: "Cannot pack \(directory): tar could not run (\(describe(error))). Install tar.")
        }
        // Read before waiting: a large archive fills the pipe.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailure(message: "Cannot pack \(directory): " + String(decoding: complaint.prefix(500), as: UTF8.self))
        }
        return data
    }

    /// Foundation's error as a person reads it.
    static func describe(_ error: any Error) -> String {
        let ns = error as NSError
        if ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain {
            if let posix = (ns.userInfo[NSUnderlyingErrorKey] as? NSError), posix.domain == NSPOSIXErrorDomain {
                return String(cString: strerror(Int32(posix.code))).lowercased()
            }
            if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))).lowercased() }
            return ns.localizedDescription
        }
        return String(describing: error)
    }
}
