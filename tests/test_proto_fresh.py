"""The committed wire types are exactly what `make proto` generates from proto/."""

from pathlib import Path

from sdk.pb.generate import ROOT, generate


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in generate(tmp_path)}
    committed_dir = ROOT / "sdk" / "pb"
    committed = {
        p.relative_to(ROOT): p.read_bytes()
        for p in committed_dir.rglob("*_pb2*")
        if p.suffix in {".py", ".pyi"}
    }
    assert fresh, "protoc generated nothing"
    stale = sorted(str(p) for p in fresh if committed.get(p) != fresh[p])
    extra = sorted(str(p) for p in committed if p not in fresh)
    assert not stale and not extra, f"run `make proto`: stale {stale}, not generated {extra}"
