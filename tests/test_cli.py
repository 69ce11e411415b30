"""The CLI: every command explains itself, errors are one clean line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tipnlp.cli import app

runner = CliRunner()

COMMANDS = ["run", "ingest", "tag", "evaluate", "query", "train", "report", "annotate"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert len(result.output.splitlines()) > 4


def test_missing_input_is_one_clear_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["tag", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "out"), "--tagger", "rules"],
    )
    assert result.exit_code == 2
    assert "no such file" in result.output
    assert "Traceback" not in result.output


def test_long_error_stays_on_one_line_with_brackets_verbatim(tmp_path: Path) -> None:
    # rich wraps at 80 columns when stderr is not a terminal; a long path must not
    # split the message, and brackets in a path must not be read as markup.
    deep = tmp_path / ("x" * 60) / "[red]odd[/red]" / ("y" * 60) / "nope.jsonl"
    result = runner.invoke(
        app, ["tag", str(deep), "--out", str(tmp_path / "out"), "--tagger", "rules"]
    )
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert str(deep) in lines[0]


def test_tag_with_rules_prints_summary_and_query(tmp_path: Path) -> None:
    docs = tmp_path / "d.jsonl"
    docs.write_text(
        json.dumps(
            {
                "doc_id": "x",
                "language": "en",
                "title": "Trafficking ring dismantled",
                "text": "Police arrested five suspected human traffickers on Monday. "
                "Whoever commits trafficking in persons shall be punished by imprisonment "
                "for not less than 8 years.",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["tag", str(docs), "--out", str(tmp_path / "out"), "--tagger", "rules"]
    )
    assert result.exit_code == 0, result.output
    assert "sentences" in result.output and "read_parquet" in result.output
    assert "tagged again" not in result.output


def test_tag_retag_after_a_version_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tipnlp import io
    from tipnlp.nlp.rules import RuleTagger

    docs = tmp_path / "d.jsonl"
    text = "Police arrested five suspected human traffickers on Monday."
    docs.write_text(json.dumps({"doc_id": "x", "language": "en", "text": text}) + "\n")
    args = ["tag", str(docs), "--out", str(tmp_path / "out"), "--tagger", "rules"]
    assert runner.invoke(app, args).exit_code == 0
    monkeypatch.setattr(RuleTagger, "version", "rules-next")
    result = runner.invoke(app, [*args, "--retag"])
    assert result.exit_code == 0, result.output
    assert "tagged again" in result.output
    versions = io.read_table(tmp_path / "out", "sentences", columns=["model_version"])
    assert set(versions.column("model_version").to_pylist()) == {"rules-next"}


def _console_script(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``tipnlp.cli.main`` (the console script) in a fresh process, with an atexit hook."""
    marker = tmp_path / "atexit-ran"
    code = (
        "import atexit, pathlib, sys\n"
        f"atexit.register(lambda: pathlib.Path({str(marker)!r}).write_text('yes'))\n"
        f"sys.argv = ['tipnlp', *{args!r}]\n"
        "from tipnlp.cli import main\n"
        "main()\n"
        "print('not reached')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_console_script_keeps_exit_codes_output_and_atexit_handlers(tmp_path: Path) -> None:
    """``main`` skips interpreter teardown but nothing a finished command relies on."""
    ok = _console_script(["schema"], tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "sentence_labels" in ok.stdout  # all of stdout arrived (flushed before exiting)
    assert "not reached" not in ok.stdout
    assert (tmp_path / "atexit-ran").read_text() == "yes"
    (tmp_path / "atexit-ran").unlink()

    bad = _console_script(["tag", str(tmp_path / "nope.jsonl")], tmp_path)
    assert bad.returncode == 2
    assert "no such file" in bad.stderr
    assert (tmp_path / "atexit-ran").read_text() == "yes"

    usage = _console_script(["no-such-command"], tmp_path)
    assert usage.returncode == 2
    assert "No such command" in usage.stderr


def test_leave_maps_exit_codes_like_sys_exit(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom tipnlp.cli.app import _leave\n"
        "_leave(None if sys.argv[1] == 'none' else "
        "int(sys.argv[1]) if sys.argv[1].isdigit() else sys.argv[1])\n"
    )
    for arg, status, err in [("none", 0, ""), ("3", 3, ""), ("boom", 1, "boom")]:
        res = subprocess.run(
            [sys.executable, "-c", code, arg], capture_output=True, text=True, check=False
        )
        assert res.returncode == status
        assert res.stderr.strip() == err


def test_run_gives_prefect_its_home_before_importing_it(tmp_path: Path) -> None:
    """Prefect fixes its settings when first imported: ``run`` sets PREFECT_HOME before.

    A stand-in ``pipelines`` package (first on the path) imports Prefect at
    import time, as the real one does, and reports the home Prefect settled on.
    """
    fake = tmp_path / "pipelines"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "run.py").write_text(
        "from prefect.settings import get_current_settings\n"
        "def run_batch(*args, **kwargs):\n"
        "    print('HOME=' + str(get_current_settings().home))\n"
        "    raise SystemExit(0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_HOME"}
    env["TIPNLP_CACHE_DIR"] = str(tmp_path / "cache")
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from tipnlp.cli import app\n"
        "assert 'prefect' not in sys.modules\n"
        "res = CliRunner().invoke(app, ['run', sys.argv[1], '--out', sys.argv[2]])\n"
        "print(res.output)\n"
    )
    manifest = Path(__file__).resolve().parents[1] / "corpora" / "default.yaml"
    res = subprocess.run(
        [sys.executable, "-c", code, str(manifest), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert f"HOME={(tmp_path / 'cache' / 'prefect').resolve()}" in res.stdout, res.stdout
