"""Running the service's processes from Python: for end-to-end tests, the benchmark and the demo."""
