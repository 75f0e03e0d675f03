"""Managed workloads with real processes: `aiwo run`, `aiwo logs`, exit codes, bad launches,
and commands for workloads an agent does not run."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from controlplane.app.config import ControllerConfig
from controlplane.app.server import Controller
from controlplane.leader.decisions import Batch
from sdk import SyncAdminClient, SyncClient, WorkloadPhase
from sdk.pb.aiwo.v1 import types_pb2
from tests.e2e.cluster_helpers import BIN, cli, cli_json, local_cluster, wait_for
from tests.helpers import EtcdMember, assert_eventually


def test_run_logs_and_exit_codes(tmp_path: Path) -> None:
    with local_cluster(tmp_path / "state") as cluster:
        client = SyncClient.connect(cluster.controller_address)
        admin = SyncAdminClient.connect(cluster.controller_address)
        try:
            py = sys.executable
            shown = cli(cluster, "run", "hello", "--gpus", "1", "--env", "GREETING=hi", "--wait",
                        "--", py, "-c",
                        "import os; print(os.environ['GREETING'], os.environ['AIWO_WORKLOAD'],"
                        " os.environ['CUDA_VISIBLE_DEVICES'])")  # fmt: skip
            assert "workload default/hello runs on node-" in shown.stdout
            done = wait_for(lambda: (w := client.get("hello")).phase == WorkloadPhase.SUCCEEDED
                            and w, 20, "not succeeded")  # fmt: skip
            assert done.message.startswith("exited with code 0 on node-")
            out = cli(cluster, "logs", "hello").stdout.split()
            assert out[:2] == ["hi", "default/hello"] and out[2].isdigit()

            cli(cluster, "run", "three", "--", py, "-c",
                "import sys; print('bad', file=sys.stderr); sys.exit(3)")  # fmt: skip
            cli(cluster, "run", "killed", "--", "sh", "-c", "kill -KILL $$")
            three = wait_for(lambda: (w := client.get("three")).phase == WorkloadPhase.FAILED
                             and w, 20, "three not failed")  # fmt: skip
            assert three.message.startswith("exited with code 3 on node-"), three.message
            assert cli(cluster, "logs", "three", "--stderr").stdout == "bad\n"
            killed = wait_for(lambda: (w := client.get("killed")).phase == WorkloadPhase.FAILED
                              and w, 20, "killed not failed")  # fmt: skip
            assert killed.message.startswith("killed by SIGKILL on node-"), killed.message
            # Finished work gives its GPUs back.
            assert all(not g.workloads for g in admin.list_gpus())
        finally:
            client.close()
            admin.close()


def test_a_missing_executable_fails_once_with_the_reason(tmp_path: Path) -> None:
    with local_cluster(tmp_path / "state") as cluster:
        client = SyncClient.connect(cluster.controller_address)
        admin = SyncAdminClient.connect(cluster.controller_address)
        try:
            cli(cluster, "run", "ghost", "--restart", "on-failure", "--gpus", "1",
                "--", "/nonexistent/bin/trainer", "--epochs", "3")  # fmt: skip
            failed = wait_for(lambda: (w := client.get("ghost")).phase == WorkloadPhase.FAILED
                              and w, 20, "not failed")  # fmt: skip
            assert "start failed on node-" in failed.message
            assert "'/nonexistent/bin/trainer': No such file or directory" in failed.message
            # No retry storm: not restarted, not placed again, even when its node reconnects.
            node = failed.node
            cluster.kill(node)
            cluster.respawn(node)
            wait_for(lambda: admin.get_node(node).state == "ready", 30, "node not back")
            time.sleep(2.0)
            events = admin.list_events("workload/default/ghost", 100)
            assert sum(e.kind == "process_start_failed" for e in events) == 1
            assert sum(e.kind == "workload_placed" for e in events) == 1
            assert client.get("ghost").phase == WorkloadPhase.FAILED
            listed = cli_json(cluster, "workloads")
            assert isinstance(listed, list) and listed[0]["phase"] == "failed"
        finally:
            client.close()
            admin.close()


def spawn_agent(controller: str, node: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    with open(tmp_path / f"{node}.log", "wb") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [str(BIN / "aiwo-agent"), "--controller", controller, "--node", node,
             "--backend", "sim", "--sim-gpus", "1", "--state-dir", str(tmp_path / node)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


async def test_commands_for_workloads_the_agent_does_not_run_fail_with_the_reason(
    etcd: EtcdMember, etcd_prefix: str, tmp_path: Path
) -> None:
    """A real agent process, sent commands about a workload it never ran."""
    ctl = Controller(
        ControllerConfig(
            listen="127.0.0.1:0",
            etcd_endpoints=(etcd.endpoint,),
            etcd_prefix=etcd_prefix,
            metrics_listen="",
        )
    )
    await ctl.start()
    agent = spawn_agent(ctl.address, "node-a", tmp_path)
    try:
        await assert_eventually(lambda: ctl.sessions.agent("node-a"), timeout_s=30)
        now = time.time()
        batch = Batch()
        ghost = "default/ghost"
        for action in (
            {"stop_workload": types_pb2.StopWorkload(workload=ghost)},
            {"throttle_workload": types_pb2.ThrottleWorkload(workload=ghost, cpu_fraction=0.5)},
            {"checkpoint_workload": types_pb2.CheckpointWorkload(workload=ghost)},
        ):
            ctl.decisions.stage_command(batch, "node-a", now, **action)
        await ctl.decisions.commit(batch)

        def failures() -> dict[str, str]:
            found = {
                e.fields["command_id"]: e.fields["reason"]
                for e in ctl.state.events_for("node/node-a", 50)
                if e.kind == "command_failed"
            }
            return found if len(found) == 3 else {}

        reasons = await assert_eventually(failures, timeout_s=15, message="no failed acks")
        by_action = {
            command.WhichOneof("action"): reasons[command.id] for _, command in batch.commands
        }
        assert "not managed by this agent" in by_action["stop_workload"]
        assert ghost in by_action["throttle_workload"]
        assert "no checkpoint" in by_action["checkpoint_workload"]
        # Failed or not, an ack takes the command out of the log.
        await assert_eventually(lambda: len(ctl.state.commands) == 0, timeout_s=5)
    finally:
        agent.terminate()
        await asyncio.to_thread(agent.wait, 10)
        await ctl.stop(0)
