"""Leader election on etcd: a leased key whose create revision is the leader's epoch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from controlplane.etcd.store import EtcdStore
from sdk._tasks import cancel_and_wait
from sdk.pb.aiwo.v1 import types_pb2

log = structlog.get_logger("aiwo.leader")


class Elector:
    def __init__(
        self,
        store: EtcdStore,
        controller_id: str,
        address: str,
        lease_s: int,
        on_leader: Callable[[str], None] = lambda address: None,
    ) -> None:
        self.store = store
        self.controller_id = controller_id
        self.address = address
        self.lease_s = lease_s
        self._on_leader = on_leader
        self._leader_address = ""
        self._lease_id: int | None = None
        self.campaigned = asyncio.Event()  # set after the first campaign, won or lost

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Campaign forever; while leading, run `lead()` next to the lease keep-alive."""
        while True:
            try:
                epoch = await self._campaign()
            except Exception as exc:
                log.warning("campaign_failed", error=str(exc))
                await asyncio.sleep(1.0)
                continue
            finally:
                self.campaigned.set()
            if not epoch:
                await asyncio.sleep(self.lease_s / 3)
                continue
            log.info("leader_elected", controller=self.controller_id, epoch=epoch)
            keeper = asyncio.create_task(self._keep_alive(), name="leader-keepalive")
            leading = asyncio.create_task(lead(), name="leading")
            await asyncio.wait({keeper, leading}, return_when=asyncio.FIRST_COMPLETED)
            await cancel_and_wait((keeper, leading))
            self.store.epoch = 0
            self.leader_address = ""  # not us any more; who leads now is asked of etcd
            log.warning("leadership_ended", controller=self.controller_id, epoch=epoch)

    async def refresh_leader(self) -> None:
        """Read who leads now (followers poll this; forwarding asks on demand)."""
        current = await self.store.get(self.store_keys_leader)
        if current is None:
            self.leader_address = ""
            return
        record = types_pb2.LeaderRecord()
        record.ParseFromString(current.value)
        if record.address == self.address and self.store.epoch <= 0:
            # Our own address from a previous life of this process: not a leader to follow.
            self.leader_address = ""
            return
        self.leader_address = record.address

    async def _campaign(self) -> int:
        if await self.store.get(self.store_keys_leader) is not None:
            await self.refresh_leader()
            return 0
        self._lease_id = await self.store.grant_lease(self.lease_s)
        record = types_pb2.LeaderRecord(
            controller_id=self.controller_id, address=self.address, since_unix=time.time()
        )
        epoch = await self.store.try_acquire(record.SerializeToString(), self._lease_id)
        if epoch:
            self.leader_address = self.address
        else:
            await self.store.revoke(self._lease_id)
        return epoch

    @property
    def leader_address(self) -> str:
        return self._leader_address

    @leader_address.setter
    def leader_address(self, address: str) -> None:
        if address != self._leader_address:
            log.info("leader_known", leader=address or "none", controller=self.controller_id)
        self._leader_address = address
        self._on_leader(address)

    @property
    def store_keys_leader(self) -> str:
        return self.store.keys.leader

    async def _keep_alive(self) -> None:
        """Refresh the lease every third of its TTL. A refresh that fails or is slow (a busy
        event loop: 10,000 agent streams share it) is retried until the lease would have
        expired; only then, or when etcd says it has, does leadership end. Ending it at the
        first slow refresh deposed a healthy leader under load, and all agents reconnected."""
        assert self._lease_id is not None
        interval = max(self.lease_s / 3, 0.2)
        refreshed = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            sent = time.monotonic()  # the TTL runs from about when etcd gets the refresh
            left_s = self.lease_s - (sent - refreshed)
            try:
                alive = await asyncio.wait_for(
                    self.store.keep_alive(self._lease_id), max(left_s, 0.05)
                )
            except Exception as exc:
                left_s = self.lease_s - (time.monotonic() - refreshed)
                log.warning(
                    "lease_keepalive_failed", error=str(exc) or type(exc).__name__,
                    lease_left_s=round(left_s, 2),
                )  # fmt: skip
                if left_s > interval / 2:
                    continue  # still held: try again
                alive = False
            if not alive:
                return
            refreshed = sent

    async def resign(self) -> None:
        if self._lease_id is not None and self.store.epoch > 0:
            await self.store.revoke(self._lease_id)
        self.store.epoch = 0
