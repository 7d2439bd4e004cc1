"""The scheduler process: fires due schedules, admits waiting runs, reaps lost ones."""
