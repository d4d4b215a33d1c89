"""model.job_templates: every expression of a job, computed once per job however many checks ask."""

from __future__ import annotations

from workflow_runner import model
from workflow_runner.validate import load_workflow


def test_each_job_is_walked_once_and_each_gets_its_own_expressions(tmp_path, monkeypatch):
    wf_file = tmp_path / "w.yaml"
    wf_file.write_text("jobs:\n  a:\n    steps: [{run: 'echo ${{ inputs.x }}'}]\n"
                       "  b:\n    needs: [a]\n    steps: [{run: 'echo ${{ needs.a.outputs.y }} ${{ inputs.z }}'}]\n")
    walks = []
    real = model._job_templates
    monkeypatch.setattr(model, "_job_templates", lambda job: walks.append(job.name) or real(job))
    monkeypatch.setattr(model, "_JOB_TEMPLATES", {})
    wf = load_workflow(wf_file)
    for _ in range(3):
        model.workflow_templates(wf)
    a, b = (model.job_templates(wf.jobs[name]) for name in ("a", "b"))
    assert sorted(walks) == ["a", "b"]
    assert [ref for t, _ in a for ref, _ in t.references()] == [("inputs", "x")]
    assert {ref[:2] for t, _ in b for ref, _ in t.references()} == {("needs", "a"), ("inputs", "z")}
