"""``floodwatch subscribe threshold …`` as users call it: a gauge by code or name, a level in
metres; every bad input refused with one clear line and nothing stored."""

from __future__ import annotations

import json

import pytest

from floodwatch.cli.main import run


@pytest.fixture
def store(hue_cli_store: str) -> str:
    assert run(["subscribe", "add", "--region", "hue", "--ward", "Kim Long", "--channel",
                "email", "--address", "ban@hue.example.org"]) == 0
    return hue_cli_store


def listed(capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, object]]:
    capsys.readouterr()
    assert run(["subscribe", "threshold", "list", "--json", *extra]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return rows


ADD = ["subscribe", "threshold", "add"]


def test_add_list_remove(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run([*ADD, "1", "--station", "71520", "--level", "2.5", "--label",
                "nhà bố mẹ"]) == 0
    assert capsys.readouterr().out == (
        "threshold 1: Kim Long (71520) above 2.50 m for subscription 1 (nhà bố mẹ)\n")
    assert run([*ADD, "1", "--station", "phu oc", "--level", "3", "--direction", "below"]) == 0
    assert capsys.readouterr().out == (
        "threshold 2: Phú Ốc (71518) below 3.00 m for subscription 1\n")
    [kim_long, phu_oc] = listed(capsys)
    assert kim_long["station"] == {"code": "71520", "name": "Kim Long"}
    assert (kim_long["level_m"], kim_long["direction"], kim_long["label"]) == (
        2.5, "above", "nhà bố mẹ")
    assert (phu_oc["subscription_id"], phu_oc["direction"]) == (1, "below")
    assert [r["id"] for r in listed(capsys, "1")] == [1, 2]

    assert run(["subscribe", "threshold", "remove", "1"]) == 0
    assert capsys.readouterr().out == (
        "removed threshold 1: Kim Long (71520) above 2.50 m for subscription 1 (nhà bố mẹ)\n")
    assert [r["id"] for r in listed(capsys)] == [2]
    assert [(r["id"], r["active"]) for r in listed(capsys, "--all")] == [(1, False), (2, True)]
    capsys.readouterr()
    assert run(["subscribe", "threshold", "list"]) == 0
    out = capsys.readouterr().out
    assert "Phú Ốc (71518)" in out and "below 3.00 m" in out and "Kim Long" not in out

    # a purged subscription takes its thresholds with it
    assert run(["subscribe", "remove", "1", "--purge"]) == 0
    assert listed(capsys, "--all") == []
    assert run(["subscribe", "threshold", "list"]) == 0
    assert capsys.readouterr().out == "no thresholds\n"


@pytest.mark.parametrize(("args", "code", "message"), [
    (["1", "--station", "Kim Lon", "--level", "2"], 4,
     "no station 'Kim Lon' (close: Kim Long 71520)"),
    (["1", "--station", "Atlantis", "--level", "2"], 4, "no station 'Atlantis'"),
    (["1", "--station", "71520", "--level", "-1"], 2,
     "the threshold at Kim Long must be 0 to 11.62 m (twice its historic maximum of 5.81 m), "
     "not -1 m"),
    (["1", "--station", "71520", "--level", "12"], 2, "must be 0 to 11.62 m"),
    (["1", "--station", "71520", "--level", "nan"], 2, "must be a number of metres, not nan"),
    (["1", "--station", "Hồ Tả Trạch", "--level", "2"], 2,
     "Hồ Tả Trạch (fd622826-9f2e-4130-8995-1654bac81895) is not a river gauge the warnings "
     "watch; thresholds can be set on Kim Long (71520), Phú Ốc (71518)"),
    (["1", "--station", "71520", "--level", "2", "--direction", "up"], 2,
     "the direction must be above or below, not 'up'"),
    (["9", "--station", "71520", "--level", "2"], 4, "no subscription 9"),
])
def test_bad_input_is_refused_and_nothing_stored(
        store: str, capsys: pytest.CaptureFixture[str], args: list[str], code: int,
        message: str) -> None:
    capsys.readouterr()
    assert run([*ADD, *args]) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert listed(capsys, "--all") == []


def test_the_same_threshold_twice_a_removed_subscription_and_unknown_ids(
        store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*ADD, "1", "--station", "Kim Long", "--level", "2.5"]) == 0
    assert run([*ADD, "1", "--station", "71520", "--level", "2.50"]) == 2
    assert ("subscription 1 already has this threshold (threshold 1)"
            in capsys.readouterr().err)
    assert run(["subscribe", "remove", "1"]) == 0
    assert run([*ADD, "1", "--station", "71518", "--level", "3"]) == 2
    assert "subscription 1 is removed; subscribe again first" in capsys.readouterr().err
    assert run(["subscribe", "threshold", "remove", "5"]) == 4
    assert "no threshold 5" in capsys.readouterr().err
    assert run(["subscribe", "threshold", "list", "5"]) == 4
    assert "no subscription 5" in capsys.readouterr().err
    assert [r["id"] for r in listed(capsys, "--all")] == [1]
