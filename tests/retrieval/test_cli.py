"""The shared CLI wrapper (retrieval/cli.py): a user error is one line and status 2, Ctrl-C one line and 130."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import pytest

from retrieval.cli import EXIT_INTERRUPTED, EXIT_USER_ERROR, _threads_left, cli_main, positive_int
from retrieval.errors import ConfigError


@cli_main()
def fails(argv: list[str] | None = None) -> int:
    raise ConfigError("--max-steps must be positive. Fix: pass --max-steps 10")


def test_user_error_is_one_line_and_exit_2(capsys: pytest.CaptureFixture) -> None:
    assert fails([]) == EXIT_USER_ERROR == 2
    err = capsys.readouterr().err
    assert err == "error: --max-steps must be positive. Fix: pass --max-steps 10\n"


def test_success_returns_the_status_and_none_counts_as_zero() -> None:
    assert cli_main()(lambda argv: 3)(["x"]) == 3
    assert cli_main()(lambda argv: None)(None) == 0


def test_a_bug_keeps_its_traceback() -> None:
    @cli_main()
    def buggy(argv: list[str] | None = None) -> int:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        buggy([])


def test_interrupt_is_one_line_and_exit_130(capsys: pytest.CaptureFixture) -> None:
    @cli_main(interrupted="interrupted: rerun to resume")
    def interrupted(argv: list[str] | None = None) -> int:
        raise KeyboardInterrupt

    assert interrupted([]) == EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err == "interrupted: rerun to resume\n"


def test_sigterm_interrupts_while_main_runs_and_the_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)

    @cli_main(sigterm=True)
    def killed(argv: list[str] | None = None) -> int:
        signal.raise_signal(signal.SIGTERM)
        return 0

    assert killed([]) == EXIT_INTERRUPTED
    assert signal.getsignal(signal.SIGTERM) == before


def test_an_error_that_follows_a_sigterm_is_reported_as_the_interrupt(capsys: pytest.CaptureFixture) -> None:
    """The LLM server got the same SIGTERM and the stage stops on its dropped connection: the user sees the resume
    line and status 130, not an endpoint error to fix."""

    @cli_main(interrupted="interrupted: rerun to resume", sigterm=True)
    def killed(argv: list[str] | None = None) -> int:
        try:
            signal.raise_signal(signal.SIGTERM)
        except KeyboardInterrupt:  # what inference code may swallow before the connection error surfaces
            pass
        raise ConfigError("query generation stopped: Connection reset by peer")

    assert killed([]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == ("interrupted: rerun to resume (after: query generation stopped: Connection "
                                       "reset by peer)\n")


def test_helper_threads_failing_after_a_sigterm_stay_off_the_terminal(capsys: pytest.CaptureFixture) -> None:
    """aiosqlite's thread posting to a closed event loop as the run stops: no traceback on the terminal."""
    hook = threading.excepthook

    def fail() -> None:
        raise RuntimeError("Event loop is closed")

    @cli_main(sigterm=True)
    def killed(argv: list[str] | None = None) -> int:
        try:
            signal.raise_signal(signal.SIGTERM)
        except KeyboardInterrupt:
            helper = threading.Thread(target=fail)
            helper.start()
            helper.join()
            raise
        return 0

    assert killed([]) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err == "interrupted\n", err
    assert threading.excepthook is hook  # restored for whatever runs next in this process


def test_threads_left_waits_for_finishing_threads_and_names_stuck_ones() -> None:
    release = threading.Event()
    stuck = threading.Thread(target=release.wait)  # non-daemon: the interpreter would wait for it at exit
    stuck.start()
    try:
        assert _threads_left(grace_s=0.1)
    finally:
        release.set()
    assert not _threads_left(grace_s=5.0)


def test_threads_running_before_the_command_are_not_its_own() -> None:
    release = threading.Event()
    earlier = threading.Thread(target=release.wait)  # e.g. another test's helper, in the same process
    earlier.start()
    try:
        assert not _threads_left(grace_s=0.1, ignore={earlier})
    finally:
        release.set()
        earlier.join()


def test_traceback_goes_to_the_log_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    handler = logging.FileHandler(tmp_path / "run.log")
    logging.getLogger().addHandler(handler)
    try:
        assert fails([]) == 2
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    log = (tmp_path / "run.log").read_text()
    assert "Traceback" in log and "ConfigError: --max-steps must be positive" in log
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-8", "abc", "1.5"])
def test_a_count_below_one_is_a_usage_error(value: str, capsys: pytest.CaptureFixture) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--batch-size", type=positive_int)
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--batch-size", value])
    assert exit_.value.code == 2
    assert f"argument --batch-size: must be a whole number of at least 1, not {value!r}" in capsys.readouterr().err
    assert parser.parse_args(["--batch-size", "3"]).batch_size == 3

