"""The README's map of ``fleet_assets/`` lists every folder of the package, and nothing that is not one."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SECTION = "### Inside `fleet_assets/`"


def _table_folders(readme: str) -> list[str]:
    section = readme.split(SECTION, 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `(fleet_assets/[^`]*)/` \|", section, flags=re.M)


def _package_folders() -> set[str]:
    return {p.relative_to(REPO).as_posix() for p in (REPO / "fleet_assets").rglob("*")
            if p.is_dir() and p.name != "__pycache__" and any(p.glob("*.py"))}


def test_layout_table_matches_the_folders():
    listed = _table_folders((REPO / "README.md").read_text())
    assert len(listed) == len(set(listed)), "a folder is listed twice"
    assert set(listed) == _package_folders(), {"missing from the table": sorted(_package_folders() - set(listed)),
                                                "not a folder": sorted(set(listed) - _package_folders())}


def test_table_parsing_sees_rows():
    sample = f"{SECTION}\n\n| folder | x |\n|---|---|\n| `fleet_assets/a/` | one |\n| `fleet_assets/a/b/` | two |\n\n## Next\n| `fleet_assets/z/` | no |\n"
    assert _table_folders(sample) == ["fleet_assets/a", "fleet_assets/a/b"]


def test_no_source_cites_the_out_of_repo_provider_brief():
    """Docstrings cite the providers' own documentation, not a research brief that is not in the repository."""
    brief = "providers" + ".md"  # spelled apart so this file does not cite it either
    roots = ("fleet_assets", "fleet_assets_tests", "protocol", "benchmarks")
    citing = [p.relative_to(REPO).as_posix() for root in roots for p in (REPO / root).rglob("*.py")
              if brief in p.read_text()]
    assert not citing, citing
