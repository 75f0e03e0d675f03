"""The routing table: which replicas serve each service, and which one gets a request.

Pure bookkeeping, no I/O and no clock of its own (`now` comes in as an argument):
- `apply` takes the controller's endpoint updates (a snapshot replaces everything).
- `pick` chooses among listed, non-ejected replicas by least outstanding requests; ties go
  to a random one (the `rng` passed in), so several gateways do not all favour the same one.
- A replica that leaves the listing is *draining*: it gets no new request, its in-flight
  ones finish, and it is forgotten when the last ends. Its in-flight count is still
  reported, which is how the controller learns that it is idle and may be stopped.
- `eject` takes a replica out of rotation for a while after it failed a request (its
  connection broke). An update that lists it again does not end the ejection early: the
  controller's readiness check is slower than the failure seen here. A replica listed with a
  new address is a new replica (it restarted) and starts clean.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

ServiceKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class EndpointSpec:
    replica: str
    address: str  # host:port


@dataclass(frozen=True)
class ServiceSpec:
    namespace: str
    name: str
    endpoints: tuple[EndpointSpec, ...]
    max_replicas: int  # 0 = the service was deleted

    @property
    def key(self) -> ServiceKey:
        return (self.namespace, self.name)


@dataclass(frozen=True)
class EndpointsChange:
    """One EndpointsUpdate, converted at the boundary (link.py)."""

    snapshot: bool
    services: tuple[ServiceSpec, ...]


@dataclass
class Replica:
    service: ServiceKey
    name: str
    address: str
    in_flight: int = 0
    listed: bool = True  # False: draining (out of the endpoints, finishing its requests)
    ejected_until_s: float = 0.0

    def routable(self, now_s: float) -> bool:
        return self.listed and now_s >= self.ejected_until_s


@dataclass
class _Service:
    replicas: dict[tuple[str, str], Replica] = field(default_factory=dict)  # (name, address)
    known: bool = True  # False once deleted; kept only while draining replicas remain


class EndpointTable:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._services: dict[ServiceKey, _Service] = {}
        self.synced = False  # a first snapshot has arrived since start
        # Replicas forgotten since the last call to `take_forgotten`: reported once more with
        # in_flight 0, so the controller sees the drain end even when nothing else happens.
        self._forgotten: list[Replica] = []

    # -- updates from the controller -------------------------------------------------------

    def apply(self, change: EndpointsChange) -> list[ServiceKey]:
        """Apply one update; return the services that now have a routable replica."""
        listed = {spec.key for spec in change.services}
        if change.snapshot:
            self.synced = True
            for key in list(self._services):
                if key not in listed:
                    self._delete(key)
        for spec in change.services:
            if spec.max_replicas <= 0:
                self._delete(spec.key)
            else:
                self._set(spec)
        return [spec.key for spec in change.services if self.has_listed(spec.key)]

    def _set(self, spec: ServiceSpec) -> None:
        service = self._services.setdefault(spec.key, _Service())
        service.known = True
        wanted = {(e.replica, e.address) for e in spec.endpoints}
        for ident, replica in list(service.replicas.items()):
            if ident not in wanted:
                self._unlist(service, ident, replica)
        for ident in wanted:
            existing = service.replicas.get(ident)
            if existing is None:
                service.replicas[ident] = Replica(spec.key, ident[0], ident[1])
            else:
                existing.listed = True  # listed again while draining: it takes requests again

    def _delete(self, key: ServiceKey) -> None:
        service = self._services.get(key)
        if service is None:
            return
        service.known = False
        for ident, replica in list(service.replicas.items()):
            self._unlist(service, ident, replica)
        if not service.replicas:
            del self._services[key]

    def _unlist(self, service: _Service, ident: tuple[str, str], replica: Replica) -> None:
        replica.listed = False
        if replica.in_flight == 0:
            del service.replicas[ident]
            self._forgotten.append(replica)

    # -- requests --------------------------------------------------------------------------

    def known(self, key: ServiceKey) -> bool:
        service = self._services.get(key)
        return service is not None and service.known

    def has_listed(self, key: ServiceKey) -> bool:
        service = self._services.get(key)
        return service is not None and any(r.listed for r in service.replicas.values())

    def pick(
        self, key: ServiceKey, now_s: float, exclude: frozenset[str] = frozenset()
    ) -> Replica | None:
        """The routable replica with the fewest outstanding requests, or None."""
        service = self._services.get(key)
        if service is None or not service.known:
            return None
        candidates = [
            r for r in service.replicas.values() if r.routable(now_s) and r.address not in exclude
        ]
        if not candidates:
            return None
        least = min(r.in_flight for r in candidates)
        return self._rng.choice([r for r in candidates if r.in_flight == least])

    def start(self, replica: Replica) -> None:
        replica.in_flight += 1

    def finish(self, replica: Replica) -> None:
        replica.in_flight -= 1
        if replica.in_flight == 0 and not replica.listed:
            service = self._services.get(replica.service)
            ident = (replica.name, replica.address)
            if service is not None and service.replicas.get(ident) is replica:
                del service.replicas[ident]
                self._forgotten.append(replica)
                if not service.replicas and not service.known:
                    del self._services[replica.service]

    def eject(self, replica: Replica, now_s: float, for_s: float) -> None:
        replica.ejected_until_s = max(replica.ejected_until_s, now_s + for_s)

    def next_ejection_end_s(self, key: ServiceKey, now_s: float) -> float | None:
        """When the soonest ejected (and still listed) replica of `key` comes back."""
        service = self._services.get(key)
        if service is None:
            return None
        ends = [
            r.ejected_until_s
            for r in service.replicas.values()
            if r.listed and r.ejected_until_s > now_s
        ]
        return min(ends) if ends else None

    # -- what the reports and metrics read -------------------------------------------------

    def services(self) -> list[ServiceKey]:
        """Known services and deleted ones still draining."""
        return list(self._services)

    def replicas(self, key: ServiceKey) -> list[Replica]:
        service = self._services.get(key)
        return list(service.replicas.values()) if service else []

    def take_forgotten(self) -> list[Replica]:
        forgotten, self._forgotten = self._forgotten, []
        return forgotten
