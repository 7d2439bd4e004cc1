"""The real sshd these tests talk to (tests/support/sshd.py) and the in-process engine driver."""

from tests.etl.conftest import ctx, driver
from tests.support.sshd import sshd

__all__ = ["ctx", "driver", "sshd"]
