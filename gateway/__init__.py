"""aiwo-gateway: the HTTP data path in front of services' replicas (docs/gateway.md).

Pure parts: `endpoints` (routing table, least-outstanding choice, ejection, drain) and
`traffic` (per-interval aggregates). I/O parts: `proxy` (aiohttp handlers), `link` (the
controller's WatchEndpoints and ReportTraffic streams), `app` (wiring), `main` (the CLI).
It imports `sdk` (wire types, channel helpers) and nothing from controlplane or nodeagent.
"""
