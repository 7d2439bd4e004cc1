"""The phases of a sync run: control (admission, cancel), plan, extract, stage, load, deactivate, finalize."""
