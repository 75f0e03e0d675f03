"""What `aiwo up` keeps in its state directory, and how to wipe it.

Only these entries are ever removed (`aiwo reset`, `aiwo up --demo`), so that a state dir
pointed at the wrong place (`--state-dir ~`) loses nothing that aiwo did not put there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ETCD_DATA = "etcd"  # the etcd members' data directories
AGENTS = "agents"  # each agent's state: journal, logs of managed workloads, checkpoints
LOGS = "logs"  # each process's log
SECURE = "secure"  # `aiwo up --secure`: the CA, certificates and tokens
FILES = ("cluster.json", "cluster.json.tmp", "cluster.lock")
READY_SUFFIX = ".ready"  # the controllers' ready files

EVERYTHING = (ETCD_DATA, AGENTS, LOGS, SECURE)


def entries(state_dir: Path, names: tuple[str, ...] = EVERYTHING) -> list[Path]:
    """The entries among `names` (and, for EVERYTHING, the files) that exist."""
    found = [state_dir / name for name in names if (state_dir / name).exists()]
    if names == EVERYTHING:
        found += [state_dir / name for name in FILES if (state_dir / name).exists()]
        found += sorted(state_dir.glob(f"*{READY_SUFFIX}"))
    return found


def wipe(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
