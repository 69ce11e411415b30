"""A real Label Studio round trip: our config and tasks in, API annotations, export back in."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tipnlp.annotation.candidates import Candidate
from tipnlp.annotation.labelstudio import (
    annotation_result,
    import_export,
    labelling_config,
    make_task,
    read_annotations,
)
from tipnlp.labels import LABELS

ROOT = Path(__file__).resolve().parents[2]
LS_PY = ROOT / ".venv-labelstudio" / "bin" / "python"
LS_BIN = ROOT / ".venv-labelstudio" / "bin" / "label-studio"
TOKEN = "tipnlp-roundtrip-token-0123456789"

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(600)
def test_round_trip_every_label_arrives(tmp_path: Path) -> None:
    if not LS_BIN.exists():
        pytest.skip(f"{LS_BIN} missing: build it with `make labelstudio`")
    port = _free_port()
    env = dict(os.environ)
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(tmp_path / "ls-data"),
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        LABEL_STUDIO_USER_TOKEN=TOKEN,
        LABEL_STUDIO_USERNAME="annotator@example.org",
        LABEL_STUDIO_PASSWORD="roundtrip-pass-1",
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
    )
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [
            str(LS_BIN),
            "start",
            "--no-browser",
            "--internal-host",
            "127.0.0.1",
            "--port",
            str(port),
            "--enable-legacy-api-token",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 420
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                    if b"UP" in r.read():
                        break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            assert time.time() < deadline, "Label Studio did not become healthy"
            time.sleep(2)
        # one task per label (+ a none task), our own sentences
        wanted = [[name] for name in LABELS] + [[]]
        tasks, answers = [], []
        for i, labels in enumerate(wanted):
            cand = Candidate("rt-doc", i, i * 100, i * 100 + 40, f"Round trip sentence {i}.")
            tasks.append(make_task(cand, None, None))
            figures = {"prison_min_years": 2.0, "prison_max_years": 7.0, "prison_life": True}
            answers.append(annotation_result(labels, figures))
        (tmp_path / "config.xml").write_text(labelling_config(), encoding="utf-8")
        (tmp_path / "tasks.json").write_text(json.dumps(tasks), encoding="utf-8")
        (tmp_path / "answers.json").write_text(json.dumps(answers), encoding="utf-8")
        export = tmp_path / "export.json"
        subprocess.run(
            [
                str(LS_PY),
                str(ROOT / "scripts" / "labelstudio_roundtrip.py"),
                url,
                TOKEN,
                str(tmp_path / "config.xml"),
                str(tmp_path / "tasks.json"),
                str(tmp_path / "answers.json"),
                str(export),
            ],
            check=True,
            timeout=300,
        )
        report = import_export(export, tmp_path / "annotations")
        assert report.new == len(wanted)
        rows = {r["sent_id"]: r for r in read_annotations(tmp_path / "annotations")}
        assert [rows[i]["labels"] for i in range(len(wanted))] == wanted
        pen = rows[LABELS.index("penalty")]
        assert (pen["prison_min_years"], pen["prison_max_years"], pen["prison_life"]) == (
            2.0,
            7.0,
            True,
        )
    finally:
        # The server may already have exited (the health loop reports why);
        # a missing process must not hide that error.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
        log.close()
