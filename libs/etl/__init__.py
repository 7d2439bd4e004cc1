"""A sync run: the phase table (`pipeline.py`), the phase bodies, and the run state machine (`runs.py`)."""
