"""CalcJobs running the project's console scripts, so heavy stages run in parallel on any computer."""
