"""job_runner's with: → JobSpec → scripts: every directive value validated, scripts rendered safely."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from workflow_runner.actions.job_runner import job_name_for, render_scripts, resolve_spec
from workflow_runner.actions.job_runner.batch import PBSBackend, SlurmBackend
from workflow_runner.errors import InputError
from workflow_runner.validate import load_workflow

ROOT = Path(__file__).resolve().parents[2]
V4 = load_workflow(ROOT / "marketplace" / "job_runner" / "v4.0.yaml")
V3 = load_workflow(ROOT / "marketplace" / "job_runner" / "v3.5.yaml")
SLURM = {"ip": "h", "schedulerType": "slurm"}
PBS = {"ip": "h", "schedulerType": "pbs"}


def spec(values, version="v4.0"):
    return resolve_spec(V4 if version == "v4.0" else V3, version, values, None)


def test_ssh_mode_by_default():
    s = spec({"resource": {"ip": ""}, "script": "echo hi"})
    assert s.mode == "ssh" and s.slurm == {} and s.inject_markers is True and s.poll_interval == 15


def test_slurm_structured_fields():
    s = spec({"resource": SLURM, "scheduler": True, "slurm": {"partition": "debug", "gres": "gpu:a100:2", "mem": "64G",
                                                             "array": "0-9%2", "constraint": "a100&ib"}})
    assert s.mode == "slurm"
    assert s.slurm == {"--partition": "debug", "--time": "04:00:00", "--nodes": "1", "--cpus-per-task": "4",
                       "--gres": "gpu:a100:2", "--mem": "64G", "--constraint": "a100&ib", "--array": "0-9%2"}


def test_empty_values_produce_no_directive():
    s = spec({"resource": SLURM, "scheduler": True, "slurm": {"partition": "", "account": "undefined", "time": ""}})
    assert "--partition" not in s.slurm and "--account" not in s.slurm and "--time" not in s.slurm


def test_pbs_fields():
    s = spec({"resource": PBS, "scheduler": True, "pbs": {"queue": "workq", "select": "1:ncpus=2:mem=1gb", "account": "proj"}})
    assert s.mode == "pbs"
    assert s.pbs == {"-A": "proj", "-q": "workq", "-l walltime=": "04:00:00", "-l select=": "1:ncpus=2:mem=1gb"}
    cmd = PBSBackend().submit(s, "name", "/r", "/r/run.1.out")
    assert cmd == "qsub -N name -o /r/run.1.out -j oe -A proj -q workq -l walltime=04:00:00 -l select=1:ncpus=2:mem=1gb run.sh"


@pytest.mark.parametrize("group,field,value", [
    ("slurm", "partition", "debug\n#SBATCH --uid=0"),
    ("slurm", "partition", "debug;rm -rf ~"),
    ("slurm", "partition", "debug #SBATCH --x"),
    ("slurm", "account", "a$(id)"),
    ("slurm", "time", "1:00:00\n#SBATCH --uid=0"),
    ("slurm", "gres", "gpu:1 --uid=0"),
    ("slurm", "mem", "4G`id`"),
    ("slurm", "array", "0-3; touch /tmp/x"),
    ("pbs", "queue", "q\n#PBS -l x"),
    ("pbs", "select", "1:ncpus=2 -W x"),
    ("pbs", "walltime", "01:00:00;id"),
])
def test_directive_injection_refused(group, field, value):
    resource = SLURM if group == "slurm" else PBS
    with pytest.raises(InputError) as err:
        spec({"resource": resource, "scheduler": True, group: {field: value}})
    assert f"{group}.{field} has an invalid value" in err.value.message


def test_scheduler_directives_lines_must_be_directives():
    ok = spec({"resource": SLURM, "scheduler": True, "slurm": {"scheduler_directives": "#SBATCH --exclusive\n\n  #SBATCH --mail-type=END\n"}})
    assert ok.directives == ["#SBATCH --exclusive", "#SBATCH --mail-type=END"]
    with pytest.raises(InputError, match="every line must start with '#SBATCH '"):
        spec({"resource": SLURM, "scheduler": True, "slurm": {"scheduler_directives": "#SBATCH --exclusive\nrm -rf ~"}})
    with pytest.raises(InputError, match="every line must start with '#PBS '"):
        spec({"resource": PBS, "scheduler": True, "pbs": {"scheduler_directives": "#SBATCH -x"}})


def test_scheduler_true_without_any_scheduler_is_an_error():
    with pytest.raises(InputError, match="neither SLURM nor PBS is enabled"):
        spec({"resource": SLURM, "scheduler": True, "slurm": {"is_disabled": True}})


def test_existing_script_needs_path():
    with pytest.raises(InputError, match="script_path is empty"):
        spec({"resource": {"ip": ""}, "use_existing_script": True})


def test_wrong_type_is_input_error():
    with pytest.raises(InputError, match="slurm.cpus_per_task' must be a number"):
        spec({"resource": SLURM, "scheduler": True, "slurm": {"cpus_per_task": "many"}})


def test_v35_inputs():
    s = spec({"resource": SLURM, "scheduler": True, "slurm": {"partition": "debug", "scheduler_directives": "#SBATCH --exclusive"}}, "v3.5")
    assert s.mode == "slurm" and s.slurm == {"--partition": "debug", "--time": "01:00:00"}
    assert s.directives == ["#SBATCH --exclusive"] and s.inject_markers is False


def test_job_names_unique_and_bounded():
    a = job_name_for("12", "job", "step")
    assert a == "wfrun-12-job-step"
    long = job_name_for("12", "j" * 100, "s")
    assert len(long) <= 60 and long != job_name_for("12", "j" * 99, "s")


def test_rendered_scripts_are_valid_bash_and_keep_the_user_script(tmp_path):
    user = "echo \"it's $HOME\"\ncat <<'EOF'\nWFRUN_EOF_x\nEOF\necho ünïcödé\nexit 3\n"
    s = spec({"resource": SLURM, "scheduler": True, "script": user, "slurm": {"partition": "debug"}})
    rundir = str(tmp_path / "run dir")
    prepare, submit = render_scripts(s, rundir=rundir, out_file=f"{rundir}/run.1.out", exit_file=f"{rundir}/x.exit",
                                     job_name="n", label="j/s")
    assert submit.startswith("sbatch --parsable --job-name=n --chdir='") and submit.endswith(" run.sh")
    # run the prepare part without submitting: strip the submit block
    prepare_only = prepare.split("set +e")[0]
    subprocess.run(["bash", "-c", prepare_only], check=True)
    assert (tmp_path / "run dir" / "run-template.sh").read_text() == user
    job = (tmp_path / "run dir" / "run.sh").read_text()
    assert job.startswith("#!/bin/bash\n#SBATCH --open-mode=append\n#SBATCH --partition=debug\n#SBATCH --time=04:00:00\n")
    proc = subprocess.run(["bash", str(tmp_path / "run dir" / "run.sh")], capture_output=True, text=True)
    assert proc.returncode == 3 and "ünïcödé" in proc.stdout
    assert (tmp_path / "x.exit").exists() is False and (tmp_path / "run dir" / "x.exit").read_text() == "3\n"
    assert (tmp_path / "run dir" / "job.started").exists()


def test_slurm_status_and_final_parsing():
    b = SlurmBackend()
    states = b.parse_status(["101|RUNNING|node1", "102_0|COMPLETED|node1", "102_1|PENDING|", ""])
    assert states == {"101": [("101", "RUNNING", "node1")], "102": [("102_0", "COMPLETED", "node1"), ("102_1", "PENDING", "")]}
    finals = b.parse_final(["101|FAILED|3:0|node1", "103|CANCELLED by 0|0:15|node1"])
    assert finals["101"] == [("101", "FAILED", 3, "node1")] and finals["103"][0][1] == "CANCELLED"


def test_pbs_status_parsing():
    lines = ["Job Id: 55.server", "    Job_Name = x", "    job_state = R", "    exec_host = node1/0", "", "Job Id: 56", "    job_state = C"]
    assert PBSBackend().parse_status(lines) == {"55": [("55", "R", "node1")], "56": [("56", "C", "")]}
