"""Regenerate tests/fixtures/edgepack_manifest.json (.ptl), edgepack_manifest_pte.json (.pte) and
edgepack_manifest_embedding.json (.ptl, --task embedding) from real builds of the bundled example.

    .venv/bin/python scripts/update_manifest_fixture.py

The fixture is the contract between edgepack and the Android app: the Python tests check that a
fresh build still produces a manifest of the same shape, and the app's JVM tests parse it. Run
this after an intentional manifest change (and bump manifest.SCHEMA when the change breaks readers).
"""
import json
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = {"ptl": ROOT / "tests" / "fixtures" / "edgepack_manifest.json",
            "pte": ROOT / "tests" / "fixtures" / "edgepack_manifest_pte.json"}
EMBEDDING_FIXTURE = ROOT / "tests" / "fixtures" / "edgepack_manifest_embedding.json"
EXAMPLE = ROOT / "examples" / "shapes_regnet.ckpt"


def main() -> int:
    from edgepack import BuildOptions, build

    for fmt, fixture in FIXTURES.items():
        with tempfile.TemporaryDirectory() as tmp:
            result = build(str(EXAMPLE), BuildOptions(output=f"{tmp}/example.{fmt}"), report=lambda m: None)
        fixture.write_text(json.dumps(result.manifest, indent=2, sort_keys=True) + "\n")
        print(f"wrote {fixture}")
    with tempfile.TemporaryDirectory() as tmp:
        result = build(str(EXAMPLE), BuildOptions(output=f"{tmp}/example.ptl", task="embedding"), report=lambda m: None)
    EMBEDDING_FIXTURE.write_text(json.dumps(result.manifest, indent=2, sort_keys=True) + "\n")
    print(f"wrote {EMBEDDING_FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
