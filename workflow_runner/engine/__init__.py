"""Running a planned workflow: the scheduler, jobs, steps, statuses and outputs."""
