"""The etcd key layout. One place, so a key is never spelled twice.

{prefix}/nodes/{node}                      NodeRecord (pb Node) — written on change
{prefix}/workloads/{namespace}/{name}      pb Workload — spec and status
{prefix}/placements/{namespace}/{name}     pb PlacementRecord
{prefix}/commands/{node}/{id}              pb Command — until acked
{prefix}/events/{time_ns}-{id}             pb Event — bounded, under a lease
{prefix}/migrations/{namespace}/{name}     pb Migration — the latest migration of a workload
{prefix}/services/{namespace}/{name}       pb Service — spec, desired, replicas (docs/serving.md)
{prefix}/leader                            pb LeaderRecord — election, epoch = create revision
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "/aiwo/v1"

    @property
    def nodes(self) -> str:
        return f"{self.prefix}/nodes/"

    @property
    def workloads(self) -> str:
        return f"{self.prefix}/workloads/"

    @property
    def placements(self) -> str:
        return f"{self.prefix}/placements/"

    @property
    def commands(self) -> str:
        return f"{self.prefix}/commands/"

    @property
    def events(self) -> str:
        return f"{self.prefix}/events/"

    @property
    def migrations(self) -> str:
        return f"{self.prefix}/migrations/"

    @property
    def services(self) -> str:
        return f"{self.prefix}/services/"

    @property
    def leader(self) -> str:
        return f"{self.prefix}/leader"

    def node(self, name: str) -> str:
        return f"{self.nodes}{name}"

    def workload(self, key: str) -> str:
        """`key` is "namespace/name"."""
        return f"{self.workloads}{key}"

    def placement(self, key: str) -> str:
        return f"{self.placements}{key}"

    def command(self, node: str, command_id: str) -> str:
        return f"{self.commands}{node}/{command_id}"

    def event(self, time_ns: int, event_id: str) -> str:
        return f"{self.events}{time_ns:020d}-{event_id}"

    def migration(self, key: str) -> str:
        """`key` is "namespace/name"."""
        return f"{self.migrations}{key}"

    def service(self, key: str) -> str:
        """`key` is "namespace/name"."""
        return f"{self.services}{key}"
