"""Generate the wire types (messages, gRPC stubs, .pyi) from proto/ into sdk/pb/.

One command, `make proto`, runs this. The output is committed; tests/test_proto_fresh.py
regenerates into a temporary folder and fails when the committed files differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "proto"


def proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Run protoc over every .proto under proto/ and write the outputs under out_dir."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"
    files = [str(p.relative_to(PROTO_ROOT)) for p in proto_files()]
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(
        p for p in (out_dir / "sdk" / "pb").rglob("*_pb2*") if p.suffix in {".py", ".pyi"}
    )


def main() -> None:
    written = generate(ROOT)
    for path in written:
        print(path.relative_to(ROOT))
    sys.exit(0)


if __name__ == "__main__":
    main()
