import Metrics
import Prometheus

/// The process's Prometheus registry, bootstrapped into swift-metrics once per process.
struct MetricsEndpoint: Sendable {
    let registry: PrometheusCollectorRegistry

    static let shared: MetricsEndpoint = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return MetricsEndpoint(registry: registry)
    }()

    func render() -> String { registry.emitToString() }
}
