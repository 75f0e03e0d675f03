import aetcd

from tests.helpers import EtcdMember


async def test_etcd_member_accepts_writes(etcd: EtcdMember, etcd_prefix: str) -> None:
    async with aetcd.Client(host="127.0.0.1", port=etcd.client_port) as client:
        await client.put(f"{etcd_prefix}/probe".encode(), b"1")
        got = await client.get(f"{etcd_prefix}/probe".encode())
        assert got is not None and got.value == b"1"
