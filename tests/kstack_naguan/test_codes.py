import re
from pathlib import Path

import pytest
from django.utils import translation

from kstack_naguan.api import codes

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = REPO_ROOT.parent / "shared" / "seeds" / "000_c3b99a8e9e33b435.txt"
DOC = REPO_ROOT / "docs" / "error-codes.md"
ROW = re.compile(r"^\| (\d{3,4}) \| `([A-Z0-9_]+)` \| (.+?) \| (.+?) \|$")


def _doc_rows():
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            number, name, zh, en = match.groups()
            rows[int(number)] = (name, zh, en.replace("\\|", "|"))
    return rows


def test_registry_holds_exactly_the_documented_codes():
    rows = _doc_rows()
    assert set(rows) == set(codes.REGISTRY)
    assert len(codes.SEED_NUMBERS) == 171


@pytest.mark.parametrize("number", sorted(codes.REGISTRY))
def test_documented_code_matches_registry_in_both_languages(number):
    name, zh, en = _doc_rows()[number]
    code = codes.get(number)
    assert code.name == name
    with translation.override("zh-hans"):
        assert code.msg == zh
    with translation.override("en"):
        assert code.msg == en


@pytest.mark.skipif(not SEED.exists(), reason="the shared seed table is not beside the repo")
def test_seed_table_matches_registry():
    seed = {}
    for line in SEED.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(\d{4}(?:/\d{4})*)\s+(.*?)\s*$", line)
        if match:
            for number in match.group(1).split("/"):
                seed[int(number)] = match.group(2)
    assert set(seed) == codes.SEED_NUMBERS
    with translation.override("zh-hans"):
        assert {n: codes.get(n).msg for n in seed} == seed
