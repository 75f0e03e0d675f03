"""ServingService: services with replicas (docs/serving.md).

Writes go to the leader (rpc/forwarding.py); reads come from every controller's cache.
A create writes one record, the service; its replicas come from the leader's replica
driver (controlplane/leader/serving.py), each in one transaction with the record that
lists it, so nothing is ever half-created.
"""

from __future__ import annotations

import asyncio
import time

import grpc
import structlog

from controlplane.leader.decisions import Batch, Conflict, Decisions
from controlplane.leader.serving import stage_service
from controlplane.optimizer import can_ever_fit
from controlplane.rpc.common import (
    Leadership,
    abort_invalid,
    abort_store_error,
    commit_attempt,
    found,
    validate,
)
from controlplane.rpc.service_update import scale_flags, update_summary, updated_service_spec
from controlplane.rpc.validation import (
    ValidationError,
    check_create_service,
    check_name,
    check_service_ref,
    check_update_service,
)
from controlplane.view.cluster import ClusterState
from controlplane.view.demand import DEMAND_WINDOW_S, demand_of
from controlplane.view.snapshot import node_view_of, request_of
from sdk._text import plural
from sdk.pb.aiwo.v1 import serving_pb2, serving_pb2_grpc

log = structlog.get_logger("aiwo.serving_service")


def service_view(service: serving_pb2.Service) -> serving_pb2.Service:
    view = serving_pb2.Service()
    view.CopyFrom(service)
    view.ready = sum(
        1 for r in service.replicas if r.state == serving_pb2.REPLICA_STATE_READY and r.endpoint
    )
    return view


class ServingService(serving_pb2_grpc.ServingServiceServicer):
    def __init__(
        self,
        state: ClusterState,
        decisions: Decisions,
        leadership: Leadership,
        on_change: asyncio.Event,
    ) -> None:
        self.state = state
        self.decisions = decisions
        self.leadership = leadership
        self.on_change = on_change

    async def CreateService(
        self, request: serving_pb2.CreateServiceRequest, context: grpc.aio.ServicerContext
    ) -> serving_pb2.Service:
        await validate(context, lambda: check_create_service(request))
        await self.leadership.require(context)
        key = f"{request.namespace}/{request.name}"
        existing = self.state.services.get(key)
        if existing is not None:
            return await self._existing(key, existing, request.spec, context)
        await self._reject_if_never_fits(request.spec, context)
        now = time.time()
        service = serving_pb2.Service(
            name=request.name,
            namespace=request.namespace,
            spec=request.spec,
            desired=request.spec.min_replicas,
            created_unix=now,
            generation=1,
        )
        batch = Batch()
        stage_service(self.decisions, batch, key, service)
        try:
            await self.decisions.commit(batch)
        except Conflict:
            raced = self.state.services.get(key)
            if raced is not None:
                return await self._existing(key, raced, request.spec, context)
            await abort_store_error(context, Conflict(key))
        except Exception as exc:
            await abort_store_error(context, exc)
        spec = request.spec
        self.decisions.events.emit(
            "service_created",
            f"service/{key}",
            f"replicas {spec.min_replicas}-{spec.max_replicas}",
            now,
            min_replicas=spec.min_replicas,
            max_replicas=spec.max_replicas,
        )
        self.on_change.set()
        return service_view(service)

    async def _existing(
        self,
        key: str,
        existing: serving_pb2.Service,
        spec: serving_pb2.ServiceSpec,
        context: grpc.aio.ServicerContext,
    ) -> serving_pb2.Service:
        if existing.deleting:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"service {key} is being deleted (its replicas are draining); try again later",
            )
        if existing.spec == spec:
            return service_view(existing)  # idempotent
        flags = scale_flags(existing.spec, spec)
        if flags is not None:
            # Only the range or the targets differ: those change in place, no re-create.
            ref = f"{existing.name} -n {existing.namespace}"
            advice = f"change it in place with `aiwo scale {ref} {flags}`"
        else:
            # Nothing else of a service's spec changes in place: say what to do instead.
            advice = (
                f"to change it, delete it first (`aiwo deregister {existing.name} -n"
                f" {existing.namespace}`) and create it again"
            )
        await context.abort(
            grpc.StatusCode.ALREADY_EXISTS, f"service {key} exists with a different spec; {advice}"
        )
        raise AssertionError("unreachable")

    async def GetService(
        self, request: serving_pb2.GetServiceRequest, context: grpc.aio.ServicerContext
    ) -> serving_pb2.Service:
        await validate(context, lambda: check_service_ref(request.name, request.namespace))
        key = f"{request.namespace}/{request.name}"
        service = await found(context, self.state.services.get(key), f"service {key}")
        return self._with_demand(key, service_view(service))

    def _with_demand(self, key: str, view: serving_pb2.Service) -> serving_pb2.Service:
        """Reads carry what the gateways measured lately (only the leader hears them)."""
        samples = self.state.traffic.recent(key, time.time(), DEMAND_WINDOW_S)
        view.demand.CopyFrom(demand_of(samples))
        return view

    async def ListServices(
        self, request: serving_pb2.ListServicesRequest, context: grpc.aio.ServicerContext
    ) -> serving_pb2.ListServicesResponse:
        if request.namespace:
            await validate(context, lambda: check_name("namespace", request.namespace))
        prefix = f"{request.namespace}/" if request.namespace else ""
        services = [
            self._with_demand(key, service_view(s))
            for key, s in sorted(self.state.services.items())
            if key.startswith(prefix)
        ]
        return serving_pb2.ListServicesResponse(services=services)

    async def ScaleService(
        self, request: serving_pb2.ScaleServiceRequest, context: grpc.aio.ServicerContext
    ) -> serving_pb2.Service:
        await validate(context, lambda: check_service_ref(request.name, request.namespace))
        target = request.WhichOneof("target")
        if target is None or (target == "auto" and not request.auto):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "target: set replicas (a pin) or auto = true"
            )
        await self.leadership.require(context)
        key = f"{request.namespace}/{request.name}"
        for attempt in range(3):
            current = await self._live_service(context, key)
            spec = current.spec
            if target == "replicas":
                lo, hi = spec.min_replicas, spec.max_replicas
                if not lo <= request.replicas <= hi:
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"replicas: must be within the service's min..max ({lo}..{hi}), "
                        f"got {request.replicas}",
                    )
            updated = serving_pb2.Service()
            updated.CopyFrom(current)
            now = time.time()
            if target == "replicas":
                updated.pinned = request.replicas
                if updated.desired != request.replicas:
                    updated.last_scale.CopyFrom(
                        serving_pb2.ScaleRecord(
                            time_unix=now,
                            from_replicas=current.desired,
                            to_replicas=request.replicas,
                            reason=f"pinned to {request.replicas} (aiwo scale)",
                        )
                    )
                updated.desired = request.replicas
                message = f"pinned to {plural(request.replicas, 'replica')}"
            else:
                updated.ClearField("pinned")
                message = "autoscaled again"
            if updated == current:
                return service_view(current)
            if await self._rewrite(context, key, current, updated, last=attempt == 2):
                break
        self.decisions.events.emit(
            "service_scaled",
            f"service/{key}",
            f"{key}: {message}",
            now,
            pinned=updated.pinned if updated.HasField("pinned") else "auto",
            desired=updated.desired,
        )
        self.on_change.set()
        return service_view(updated)

    async def UpdateService(
        self, request: serving_pb2.UpdateServiceRequest, context: grpc.aio.ServicerContext
    ) -> serving_pb2.Service:
        """New bounds and SLO targets for a live service, in one write: the autoscaler steers
        by them from its next pass; desired moves into the new range at once."""
        await validate(context, lambda: check_update_service(request))
        await self.leadership.require(context)
        key = f"{request.namespace}/{request.name}"
        for attempt in range(3):
            current = await self._live_service(context, key)
            wanted = request.expected_generation
            if wanted and wanted != current.generation:
                await context.abort(
                    grpc.StatusCode.ABORTED,
                    f"expected_generation: service {key} is at generation {current.generation},"
                    f" not {wanted}",
                )
            try:
                spec = updated_service_spec(current.spec, request)
            except ValidationError as exc:
                await abort_invalid(context, exc)
            lo, hi = spec.min_replicas, spec.max_replicas
            if current.HasField("pinned") and not lo <= current.pinned <= hi:
                field = "min_replicas" if current.pinned < lo else "max_replicas"
                await context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"{field}: service {key} is pinned at {current.pinned}, outside {lo}..{hi};"
                    f" pin it within (`aiwo scale {request.name} -n {request.namespace}"
                    " --replicas N`) or unpin it (`--auto`) first",
                )
            updated = serving_pb2.Service()
            updated.CopyFrom(current)
            updated.spec.CopyFrom(spec)
            updated.desired = max(lo, min(hi, current.desired))
            now = time.time()
            if updated.desired != current.desired:
                updated.last_scale.CopyFrom(
                    serving_pb2.ScaleRecord(
                        time_unix=now,
                        from_replicas=current.desired,
                        to_replicas=updated.desired,
                        reason=f"replica range changed to {lo}-{hi}",
                    )
                )
            if updated == current:
                return service_view(current)
            if await self._rewrite(context, key, current, updated, last=attempt == 2):
                break
        self.decisions.events.emit(
            "service_updated",
            f"service/{key}",
            f"{key}: {update_summary(current, updated)}",
            now,
            min_replicas=lo,
            max_replicas=hi,
            desired=updated.desired,
        )
        self.on_change.set()
        return service_view(updated)

    async def DeleteService(
        self, request: serving_pb2.DeleteServiceRequest, context: grpc.aio.ServicerContext
    ) -> serving_pb2.DeleteServiceResponse:
        await validate(context, lambda: check_service_ref(request.name, request.namespace))
        await self.leadership.require(context)
        key = f"{request.namespace}/{request.name}"
        for attempt in range(3):
            current = await found(context, self.state.services.get(key), f"service {key}")
            if current.deleting:
                return serving_pb2.DeleteServiceResponse()
            updated = serving_pb2.Service()
            updated.CopyFrom(current)
            updated.deleting = True
            updated.desired = 0
            if await self._rewrite(context, key, current, updated, last=attempt == 2):
                break
        self.decisions.events.emit(
            "service_deleting",
            f"service/{key}",
            f"deleting {key}: draining {plural(len(current.replicas), 'replica')}",
            time.time(),
        )
        self.on_change.set()
        return serving_pb2.DeleteServiceResponse()

    async def _live_service(
        self, context: grpc.aio.ServicerContext, key: str
    ) -> serving_pb2.Service:
        """The stored service, for a change to it: NOT_FOUND when there is none,
        FAILED_PRECONDITION while it is being deleted."""
        current = await found(context, self.state.services.get(key), f"service {key}")
        if current.deleting:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, f"service {key} is being deleted"
            )
        return current

    async def _rewrite(
        self,
        context: grpc.aio.ServicerContext,
        key: str,
        current: serving_pb2.Service,
        updated: serving_pb2.Service,
        *,
        last: bool,
    ) -> bool:
        """One attempt at replacing `current` with `updated`, a generation on (commit_attempt's
        answer: False when the caller should decide again from the new record)."""
        updated.generation = current.generation + 1
        batch = Batch()
        stage_service(self.decisions, batch, key, updated)
        return await commit_attempt(context, self.decisions, batch, last=last)

    async def _reject_if_never_fits(
        self, spec: serving_pb2.ServiceSpec, context: grpc.aio.ServicerContext
    ) -> None:
        nodes = [node_view_of(node) for node in self.state.nodes.values()]
        if not nodes:
            return  # an empty cluster may still grow
        verdict = can_ever_fit(nodes, request_of(spec.template.resources))
        if verdict is not None:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, f"unschedulable replicas: {verdict.reason}"
            )
