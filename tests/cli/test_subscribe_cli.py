"""``floodwatch subscribe …`` as users call it: wards by code or name, every bad input refused
with one clear line and nothing stored, one subscription per address."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from floodwatch.cli.main import run


@pytest.fixture
def store(hue_cli_store: str) -> str:
    return hue_cli_store


def listed(capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, object]]:
    capsys.readouterr()
    assert run(["subscribe", "list", "--json", *extra]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return rows


ADD = ["subscribe", "add", "--region", "hue"]


def test_add_list_remove(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*ADD, "--ward", "19753", "--ward", "kim long", "--ward", "Phường Kim Long",
                "--channel", "email", "--address", " Ban@Hue.Example.ORG ", "--lang", "en",
                "--min-level", "2", "--label", "my parents"]) == 0
    assert capsys.readouterr().out == (
        "subscription 1: email Ban@hue.example.org (en, from level 2) for Phú Xuân (19753), "
        "Kim Long (19774)\n")
    assert run([*ADD, "--ward", "Vy Da", "--channel", "sms", "--address", "0912 345 678"]) == 0
    [email, sms] = listed(capsys)
    assert email["label"] == "my parents" and email["min_level"] == 2
    assert sms["address"] == "+84912345678" and sms["language"] == "vi"
    assert sms["areas"] == [{"code": "19777", "name": "Vỹ Dạ"}]

    assert run(["subscribe", "remove", "2"]) == 0
    assert capsys.readouterr().out.startswith("removed subscription 2: sms +84912345678")
    assert [r["id"] for r in listed(capsys)] == [1]
    assert [(r["id"], r["active"]) for r in listed(capsys, "--all")] == [(1, True), (2, False)]

    # the same number again brings its subscription back, with the new choices
    assert run([*ADD, "--ward", "An Cựu", "--channel", "sms", "--address", "+84912345678",
                "--min-level", "3"]) == 0
    back = [r for r in listed(capsys) if r["id"] == 2]
    assert back and back[0]["min_level"] == 3 and back[0]["areas"] == [
        {"code": "19815", "name": "An Cựu"}]

    assert run(["subscribe", "remove", "2", "--purge"]) == 0
    assert [r["id"] for r in listed(capsys, "--all")] == [1]
    capsys.readouterr()
    assert run(["subscribe", "list"]) == 0
    out = capsys.readouterr().out
    assert "Ban@hue.example.org" in out and "Phú Xuân (19753), Kim Long (19774)" in out


GOOD = {"--ward": "19774", "--channel": "email", "--address": "ban@hue.example.org"}


@pytest.mark.parametrize(("changes", "code", "message"), [
    ({"--address": "ban(at)hue.example.org"}, 2, "not an e-mail address: 'ban(at)hue"),
    ({"--channel": "sms", "--address": "12345"}, 2, "not a valid phone number: '12345'"),
    ({"--channel": "sms", "--address": "+84 12"}, 2, "phone number"),
    ({"--channel": "webhook", "--address": "http://hooks.example.org/fw"}, 2,
     "not an https URL: 'http://hooks.example.org/fw'"),
    ({"--channel": "webhook", "--address": "http://127.0.0.1:9/fw"}, 2, "not an https URL"),
    ({"--channel": "fax"}, 2, "unknown channel 'fax' (channels: email, sms, webhook)"),
    ({"--ward": "Kim Lon"}, 4, "no ward 'Kim Lon' (close: Kim Long 19774) in region hue"),
    ({"--ward": "19775"}, 4, "no ward '19775' (close: "),
    ({"--ward": "Atlantis"}, 4, "no ward 'Atlantis' in region hue"),
    ({"--region": "danang"}, 4, "region 'danang' is not loaded"),
    ({"--level": "district", "--ward": "Phú Vang"}, 4,  # the districts ended on 1 July 2025
     "region 'hue' has no areas at level 'district' in force"),
    ({"--min-level": "7"}, 2, "the minimum risk level must be 1 to 5, not 7"),
    ({"--min-level": "0"}, 2, "the minimum risk level must be 1 to 5, not 0"),
    ({"--lang": "fr"}, 2, "language must be vi or en, not 'fr'"),
    ({"--ward": " "}, 2, "name at least one ward"),
])
def test_bad_input_is_refused_and_nothing_stored(
        store: str, capsys: pytest.CaptureFixture[str], changes: dict[str, str], code: int,
        message: str) -> None:
    options = {"--region": "hue", **GOOD, **changes}
    args = ["subscribe", "add", *(x for item in options.items() for x in item)]
    assert run(args) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert listed(capsys, "--all") == []


def test_one_subscription_per_address(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    first = [*ADD, "--ward", "19774", "--channel", "email", "--address", "ban@hue.example.org"]
    assert run(first) == 0
    assert run([*ADD, "--ward", "19753", "--channel", "email",
                "--address", "BAN@hue.example.org"]) == 2
    assert ("email ban@hue.example.org is already subscribed (subscription 1)"
            in capsys.readouterr().err)
    assert run([*ADD, "--ward", "19753", "--ward", "Atlantis", "--channel", "email",
                "--address", "other@hue.example.org"]) == 4
    [only] = listed(capsys, "--all")
    assert only["areas"] == [{"code": "19774", "name": "Kim Long"}]
    assert run(["subscribe", "remove", "9"]) == 4
    assert "no subscription 9" in capsys.readouterr().err


def test_loopback_webhooks_only_when_the_settings_allow(
        store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "floodwatch.toml"
    config.write_text('[warnings.webhook]\nsecret_env = "FW_HOOK_SECRET"\n'
                      "allow_insecure_loopback = true\n", encoding="utf-8")
    monkeypatch.setenv("FLOODWATCH_CONFIG", str(config))
    assert run([*ADD, "--ward", "19774", "--channel", "webhook",
                "--address", "http://127.0.0.1:8080/hook"]) == 0
    assert run([*ADD, "--ward", "19774", "--channel", "webhook",
                "--address", "http://10.0.0.1/hook"]) == 2
    assert "not an https URL" in capsys.readouterr().err


def test_tables_print_outside_text_as_text(store: str, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    """A label is the subscriber's text: rich markup in it is shown, not interpreted."""
    assert run([*ADD, "--ward", "19753", "--channel", "email", "--address", "a@example.vn",
                "--label", "[bold]x[/] [link=http://evil]"]) == 0
    capsys.readouterr()
    assert run(["subscribe", "list"]) == 0
    assert "[bold]x[/] [link=http://evil]" in capsys.readouterr().out.replace("│", "")
