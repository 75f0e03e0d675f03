"""The etcd store's endpoints: IP literals as given, host names resolved, bad names named."""

from __future__ import annotations

import pytest

from controlplane.etcd.keys import Keys
from controlplane.etcd.store import EtcdStore, StoreUnavailable, resolve_endpoints
from tests.helpers import EtcdMember


def test_ip_endpoints_are_kept_in_order_without_repeats() -> None:
    assert resolve_endpoints(["10.0.0.12:2379", "10.0.0.11:2379", "10.0.0.12:2379"]) == [
        "10.0.0.12:2379",
        "10.0.0.11:2379",
    ]


def test_a_name_that_does_not_resolve_is_named() -> None:
    with pytest.raises(StoreUnavailable, match=r"etcd endpoint nowhere\.invalid:2379: cannot"):
        resolve_endpoints(["nowhere.invalid:2379"])


async def test_a_host_name_endpoint_reaches_etcd(etcd: EtcdMember, etcd_prefix: str) -> None:
    # Production configs name members (etcd-1.internal:2379); one channel needs addresses.
    store = EtcdStore([f"localhost:{etcd.client_port}"], Keys(etcd_prefix))
    await store.connect()
    try:
        revision, items = await store.list_prefix(f"{etcd_prefix}/nothing-here/")
        assert revision > 0 and items == []
    finally:
        await store.close()
