import Dispatch
import Foundation
import Logging

/// A stop that cannot hang: once SIGTERM or SIGINT has asked the control plane to stop, it exits
/// `after` that long whatever is still draining (a client holding a connection, a task that does
/// not answer cancellation). Servers run on without it, and the store has committed or rolled
/// back every write; a plane that never stops is the worse outcome for an operator or upgrade.
final class HardStop: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []

    init(after delay: Duration, logger: Logger) {
        let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
        for number in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                    logger.warning("the stop took longer than \(Int(seconds)) s; exiting without waiting for the rest")
                    exit(0)
                }
            }
            source.resume()
            sources.append(source)
        }
    }
}
