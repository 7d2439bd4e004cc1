"""`sis-sync simulate oneroster`: the options reach the simulator."""

from __future__ import annotations

import argparse

from devkit.simulators.oneroster import cli
from services.cli import build_parser
from services.cli.dev import command_parser


def test_the_simulate_command_lists_the_oneroster_simulator() -> None:
    command = build_parser().parse_args(["simulate", "oneroster", "--flavour", "classlink", "--size", "S"])
    args = command_parser(command.dev_command).parse_args(command.argv)

    assert args.handler is cli.run
    assert args.flavour == "classlink"


def test_options_and_faults_reach_the_simulator() -> None:
    parser = argparse.ArgumentParser()
    cli.register(parser)
    args = parser.parse_args(
        [
            "--flavour",
            "classlink",
            "--size",
            "S",
            "--max-limit",
            "200",
            "--rate-limit-every",
            "10",
            "--retry-after",
            "2",
        ]
    )

    simulator = cli.build(args)

    assert simulator.options.flavour == "classlink"
    assert simulator.options.max_limit == 200
    assert simulator.faults.rate_limit_every == 10
    assert simulator.faults.retry_after == 2
    counts = simulator.store.roster.counts()
    assert counts["schools"] == 15
    assert len(simulator.store.collections["orgs"].ids) == 16  # the schools and their district
