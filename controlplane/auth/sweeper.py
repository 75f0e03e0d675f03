"""The leader's token sweep: applies controlplane/auth/sweep.py to etcd once a minute."""

from __future__ import annotations

import asyncio
import time

import structlog

from controlplane.auth.sweep import Sweep, sweep
from controlplane.auth.tokens import TokenStore
from controlplane.etcd.store import EtcdStore, FencingError
from controlplane.view.cluster import ClusterState

log = structlog.get_logger("aiwo.auth")

SWEEP_INTERVAL_S = 60.0


class TokenSweeper:
    def __init__(
        self,
        tokens: TokenStore,
        state: ClusterState,
        store: EtcdStore,
        retention_s: float,
        interval_s: float = SWEEP_INTERVAL_S,
    ) -> None:
        self.tokens = tokens
        self.state = state
        self.store = store
        self.retention_s = retention_s
        self.interval_s = interval_s

    async def run(self) -> None:
        """Runs while this controller leads; returns when leadership is lost.

        The first sweep waits an interval: a new leader has more urgent work, and nothing
        here is urgent (a workload's token is also refused once it is revoked by a restart).
        """
        while self.store.epoch > 0:
            await asyncio.sleep(self.interval_s)
            try:
                await self.sweep_once(time.time())
            except FencingError as exc:
                log.warning("leadership_lost", error=str(exc))
                return
            except Exception as exc:  # etcd trouble: the next sweep retries
                log.warning("token_sweep_failed", error=str(exc))

    async def sweep_once(self, now: float) -> Sweep:
        def placed_on(workload: str) -> str | None:
            placement = self.state.placements.get(workload)
            return placement.node if placement is not None else None

        due = sweep(self.tokens.infos(now), placed_on, now, self.retention_s)
        for revocation in due.revoke:
            await self.tokens.revoke(revocation.token_id, now)
            log.info("token_revoked", token_id=revocation.token_id, reason=revocation.reason)
        if due.delete:
            await self.tokens.delete(list(due.delete))
            log.info("tokens_deleted", count=len(due.delete), retention_s=self.retention_s)
        return due
