"""Drive a running Label Studio through label-studio-sdk (run with .venv-labelstudio/bin/python).

Creates a project from our labelling config, imports our tasks, submits the
given answers as annotations through the API, and writes the project's JSON
export.  Used by tests/annotation/test_labelstudio_roundtrip.py; the SDK lives
only in the Label Studio venv, so this file must not import tipnlp.

usage: labelstudio_roundtrip.py URL TOKEN CONFIG.xml TASKS.json ANSWERS.json OUT.json
ANSWERS.json: one Label Studio ``result`` list per task, in task order.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Run the round trip; print a one-line JSON summary."""
    from label_studio_sdk import LabelStudio

    url, token, config, tasks_path, answers_path, out = argv
    client = LabelStudio(base_url=url, api_key=token)
    project = client.projects.create(
        title="tipnlp round trip", label_config=Path(config).read_text(encoding="utf-8")
    )
    tasks = json.loads(Path(tasks_path).read_text(encoding="utf-8"))
    answers = json.loads(Path(answers_path).read_text(encoding="utf-8"))
    imported = client.projects.import_tasks(project.id, request=tasks, return_task_ids=True)
    task_ids = list(imported.task_ids or [])
    if len(task_ids) != len(tasks):
        task_ids = sorted(t.id for t in client.tasks.list(project=project.id))
    for task_id, result in zip(task_ids, answers, strict=True):
        client.annotations.create(id=task_id, result=result, was_cancelled=False)
    data = b"".join(client.projects.exports.download_sync(project.id, export_type="JSON"))
    Path(out).write_bytes(data)
    print(json.dumps({"project": project.id, "tasks": len(task_ids)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
