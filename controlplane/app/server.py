"""The controller process: state, services, leader loops and servers, composed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import start_http_server

from controlplane.app import reflection
from controlplane.app.config import ControllerConfig
from controlplane.auth import SERVICE_NAME as AUTH_SERVICE_NAME
from controlplane.auth import AuthPlane, peer_channel
from controlplane.auth.sweeper import TokenSweeper
from controlplane.etcd.election import Elector
from controlplane.etcd.keys import Keys
from controlplane.etcd.store import EtcdStore, EtcdTls
from controlplane.leader.autoscale_input import CorePlanner
from controlplane.leader.autoscaler import Autoscaler
from controlplane.leader.decisions import Decisions
from controlplane.leader.events import EventLog
from controlplane.leader.migration import Migrations
from controlplane.leader.reconciler import Reconciler
from controlplane.leader.relays import LogRelay
from controlplane.leader.runtime_loop import RuntimeLoop
from controlplane.leader.serving import ServingDriver
from controlplane.optimizer import OptimizerConfig
from controlplane.optimizer.runtime import RuntimeConfig
from controlplane.rpc.admin import AdminService
from controlplane.rpc.common import Leadership
from controlplane.rpc.forwarding import Forwarder, ForwardingInterceptor
from controlplane.rpc.gateway import EndpointsHub, GatewayService
from controlplane.rpc.metrics import MetricsInterceptor, register_collector
from controlplane.rpc.migration_api import MigrationApi
from controlplane.rpc.node import NodeService
from controlplane.rpc.ratelimit import rate_limit_interceptor
from controlplane.rpc.serving import ServingService
from controlplane.rpc.workload import WorkloadService
from controlplane.view.cluster import ClusterState
from controlplane.view.sessions import Sessions
from controlplane.view.telemetry import TelemetryStore
from sdk._tasks import cancel_and_wait
from sdk.pb.aiwo.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    gateway_pb2_grpc,
    node_pb2_grpc,
    serving_pb2_grpc,
    workload_pb2_grpc,
)

log = structlog.get_logger("aiwo.controller")

VERSION = "0.1.0"
SERVICE_NAMES = (
    "aiwo.v1.NodeService",
    "aiwo.v1.WorkloadService",
    "aiwo.v1.AdminService",
    "aiwo.v1.ServingService",
    "aiwo.v1.GatewayService",
    AUTH_SERVICE_NAME,
)


class Controller:
    def __init__(self, config: ControllerConfig) -> None:
        self.config = config
        self.controller_id = config.controller_id or f"{socket.gethostname()}-{os.getpid()}"
        self.keys = Keys(config.etcd_prefix)
        tls = None
        if config.etcd_ca:
            tls = EtcdTls.load(
                config.etcd_ca, config.etcd_cert, config.etcd_key, config.etcd_server_name
            )
        self.store = EtcdStore(config.etcd_endpoints, self.keys, tls=tls)
        self.state = ClusterState(
            self.store,
            self.keys,
            TelemetryStore(config.telemetry_window_s, config.telemetry_interval_s),
        )
        self.sessions = Sessions()
        self.state.app_attached = self.sessions.app_attached
        self.events = EventLog(
            self.store, self.state, self.keys, config.events_kept, config.events_ttl_s
        )
        self.decisions = Decisions(
            self.store,
            self.state,
            self.keys,
            self.sessions,
            self.events,
            config.command_timeout_s,
        )
        self.optimizer_config = OptimizerConfig(
            policy=config.policy,
            preemption=config.preemption,
            min_runtime_s=config.preemption_min_runtime_s,
        )
        # Checkpointed moves between nodes (docs/migration.md); `request` is what the
        # optimizer's runtime calls to migrate a workload.
        self.migrations = Migrations(
            self.store,
            self.keys,
            self.state,
            self.decisions,
            self.sessions,
            self.optimizer_config,
        )
        self.log_relay = LogRelay()
        self.runtime_config = RuntimeConfig()
        self.wake = asyncio.Event()
        # Services with replicas (docs/serving.md): the driver runs while leading.
        self.serving = ServingDriver(self.state, self.decisions, self.wake)
        self.autoscaler = Autoscaler(
            self.state, self.decisions, self.serving, planner=CorePlanner(self.optimizer_config)
        )
        self.serving.before_pass = self.autoscaler.pass_once
        self.leadership = Leadership(self.store)
        self.auth = AuthPlane(config, self.store, self.leadership)
        self.server: grpc.aio.Server | None = None
        self.address = ""
        self.metrics_address = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._unregister_collector: Callable[[], None] | None = None
        self._metrics_server: Any = None
        self.health = health.aio.HealthServicer()
        self._stopped = False

    async def start(self) -> str:
        """Connect to etcd, fill the caches, serve, and campaign. Returns the bound address."""
        await self.store.connect()
        for cache in (*self.state.caches, self.migrations.cache):
            await cache.start()
        self.state.nodes.subscribe(lambda *_: self.wake.set())
        self.state.workloads.subscribe(lambda *_: self.wake.set())
        await self.auth.start()

        self.forwarder = Forwarder(
            self.leadership,
            lambda: self.address,
            lambda target: peer_channel(self.config, target, options=self._message_limits()),
            refresh=lambda: self.elector.refresh_leader(),
        )
        self.server = grpc.aio.server(
            # Outermost first: a follower forwards before checking (the leader checks),
            # and denials are timed by the metrics like any other answer.
            interceptors=[
                rate_limit_interceptor(self.config, self.auth.tokens),  # before any work
                ForwardingInterceptor(self.forwarder),
                MetricsInterceptor(),
                self.auth.interceptor,
            ],
            options=[
                *self._message_limits(),
                ("grpc.keepalive_time_ms", 10_000),
                ("grpc.keepalive_timeout_ms", 5_000),
                ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
                ("grpc.keepalive_permit_without_calls", 1),
            ],
        )
        info = admin_pb2.ClusterInfoResponse(
            version=VERSION,
            started_unix=time.time(),
            etcd_endpoints=",".join(self.config.etcd_endpoints),
        )
        node_service = NodeService(
            self.state,
            self.decisions,
            self.sessions,
            self.leadership,
            self.config.telemetry_interval_s,
            self.wake,
            migrations=self.migrations,
            logs=self.log_relay,
            tokens=self.auth.tokens if self.config.auth == "token" else None,
            config=self.config,
        )
        node_service.on_replica_event = self.serving.on_process_event
        node_pb2_grpc.add_NodeServiceServicer_to_server(node_service, self.server)
        serving_pb2_grpc.add_ServingServiceServicer_to_server(
            ServingService(self.state, self.decisions, self.leadership, self.serving.kick),
            self.server,
        )
        self.endpoints_hub = EndpointsHub(self.state)
        gateway_pb2_grpc.add_GatewayServiceServicer_to_server(
            GatewayService(
                self.state,
                self.leadership,
                self.endpoints_hub,
                on_demand=lambda _keys: self.serving.kick.set(),
            ),
            self.server,
        )
        workload_pb2_grpc.add_WorkloadServiceServicer_to_server(
            WorkloadService(
                self.state,
                self.decisions,
                self.sessions,
                self.leadership,
                self.wake,
                migrations=self.migrations,
                max_workloads_per_namespace=self.config.max_workloads_per_namespace,
            ),
            self.server,
        )
        admin_pb2_grpc.add_AdminServiceServicer_to_server(
            AdminService(
                self.state,
                self.decisions,
                self.leadership,
                self.optimizer_config,
                info,
                self.wake,
                migration_api=MigrationApi(
                    self.state, self.migrations, self.sessions, self.log_relay, self.leadership
                ),
            ),
            self.server,
        )
        self.auth.add_to_server(self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable((*SERVICE_NAMES, health.SERVICE_NAME), self.server)
        port = self.auth.bind(self.server)  # mutual TLS, or plaintext with a warning
        if port == 0:
            raise OSError(f"cannot listen on {self.config.listen}")
        host = self.config.listen.rpartition(":")[0]
        self.address = f"{host}:{port}"
        info.controller = self.address
        await self.server.start()

        if self.config.metrics_listen:
            self._start_metrics()
            # One process-wide registry: only a controller that serves metrics registers.
            self._unregister_collector = register_collector(self.state)

        def on_leader(address: str) -> None:
            self.leadership.leader_address = address

        elector = Elector(
            self.store,
            self.controller_id,
            self.address,
            self.config.leader_lease_s,
            on_leader=on_leader,
        )
        self.elector = elector
        self._tasks.append(asyncio.create_task(elector.run(self._lead), name="elector"))
        self._tasks.append(asyncio.create_task(self.events.run_flusher(), name="events"))
        # Serve once we know whether we lead; a follower still answers reads.
        await asyncio.wait_for(elector.campaigned.wait(), 10)
        await self._set_serving(True)
        self._write_ready_file()
        log.info(
            "controller_serving",
            address=self.address,
            metrics=self.metrics_address,
            etcd=",".join(self.config.etcd_endpoints),
            prefix=self.config.etcd_prefix,
        )
        return self.address

    def _message_limits(self) -> list[tuple[str, int]]:
        limit = self.config.max_message_bytes
        return [("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)]

    def _start_metrics(self) -> None:
        """Prometheus's endpoint. With TLS configured it is HTTPS, and a scraper presents a
        certificate signed by tls_ca, as every other caller does (docs/security.md)."""
        host, _, port = self.config.metrics_listen.rpartition(":")
        tls: dict[str, Any] = {}
        if self.config.tls_cert:
            tls = {
                "certfile": self.config.tls_cert,
                "keyfile": self.config.tls_key,
                "client_cafile": self.config.tls_ca,
                "client_auth_required": True,
            }
        server, _thread = start_http_server(int(port), addr=host, **tls)
        self._metrics_server = server
        self.metrics_address = f"{host}:{server.server_port}"

    async def _lead(self) -> None:
        nodes = [name for name, _ in self.state.nodes.items()]
        self.state.liveness.grace_all(nodes, time.time(), self.config.leader_grace_for(len(nodes)))
        reconciler = Reconciler(
            self.config,
            self.optimizer_config,
            self.state,
            self.decisions,
            self.wake,
        )
        loops = [
            asyncio.create_task(reconciler.run(), name="reconciler"),
            asyncio.create_task(self.migrations.run(), name="migrations"),
            asyncio.create_task(self.serving.run(), name="serving"),
            asyncio.create_task(
                TokenSweeper(
                    self.auth.tokens, self.state, self.store, self.config.token_retention_s
                ).run(),
                name="token-sweep",
            ),
        ]
        if self.config.runtime_enabled:
            runtime = RuntimeLoop(
                self.state,
                self.decisions,
                self.runtime_config,
                self.config.runtime_interval_s,
                pending=lambda: reconciler.unschedulable,
                migrate=lambda key, why: self.migrations.request(
                    key, reason=why, requested_by="runtime"
                ),
            )
            loops.append(asyncio.create_task(runtime.run(), name="runtime"))
        try:
            # Each loop returns when leadership is lost; then the others stop too.
            await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait(loops)

    async def _set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, status)

    def _write_ready_file(self) -> None:
        if not self.config.ready_file:
            return
        path = Path(self.config.ready_file)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(
            json.dumps(
                {"address": self.address, "metrics": self.metrics_address, "pid": os.getpid()}
            )
        )
        tmp.replace(path)

    async def stop(self, grace_s: float = 2.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            await self._set_serving(False)
        await cancel_and_wait(self._tasks)
        await self.events.stop()
        with contextlib.suppress(Exception):
            await self.elector.resign()
        if self.server is not None:
            await self.server.stop(grace_s)
        with contextlib.suppress(Exception):
            await self.forwarder.close()
        for cache in (*self.state.caches, self.migrations.cache):
            await cache.stop()
        await self.auth.stop()
        if self._unregister_collector is not None:
            self._unregister_collector()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        await self.store.close()
        log.info("controller_stopped")
