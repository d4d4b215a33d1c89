from workflow_runner.entrypoint import main

main()
