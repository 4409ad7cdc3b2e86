"""Request ids, structured logs, health checks and Prometheus metrics."""
