from workflow_runner.cli import entry

entry()
