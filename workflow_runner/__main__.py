from workflow_runner.cli import main

raise SystemExit(main())
